"""The payment gateway port over Stripe (RECUR_GATEWAY=stripe), through the official SDK.

Cards. A client's `card_token` is a PaymentMethod id (`pm_...`) that the buyer's browser made with Stripe.js and the
producer's publishable key: the card number never reaches recur. `prepare_card` creates a Customer for the subscriber
(or, when a subscription changes card, keeps the one its previous card was under) and attaches the PaymentMethod to
it, so that it can be charged off-session. recur keeps `cus_.../pm_...` as the card's token, with brand and last 4.

Charges. Each is an off-session PaymentIntent confirmed at once, carrying recur's attempt key as Stripe's
Idempotency-Key and in its metadata (`recur_key`, beside `subscription_id`). A charge is never made twice, even
by a server that ignores Idempotency-Key (the local one the tests use does): under a per-key advisory lock in
PostgreSQL, the key is first looked up among the customer's PaymentIntents, and a PaymentIntent is created only when
none carries it. A 429 (rate limited: nothing processed) is asked again after growing pauses. A timeout, a connection
error, a 5xx, a 429 that lasts or refused credentials leave the outcome unknown
(GatewayOutcomeUnknown), never a refusal: billing leaves the attempt in flight and the next call settles it by that
same look-up.

Secrets: the API key lives in the SDK client only; no message this module writes or raises quotes it (Stripe's
own message for a refused key shows part of it, so that one is never passed on).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe

from recur.commands.gateway import (
    BoletoResult,
    CardHolder,
    CardRefusedError,
    CardToken,
    ChargeResult,
    GatewayNotice,
    GatewayOutcomeUnknown,
    GatewayUnavailableError,
    IssuedBoleto,
    PaymentMethodUnavailableError,
    RefundResult,
    UnknownCardTokenError,
)
from recur.db import Database
from recur.deadlines import waiting_elsewhere
from recur.gateways.stripe_notices import StripeNotices
from recur.gateways.stripe_outcomes import outcome_of, reason_for, refund_result

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds to open a connection to Stripe and to wait for its answer. Stripe answers a charge in about a second; past
# these the outcome is unknown and settled later, well before gunicorn's 30 s worker timeout would end an API request.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0
# Pauses before asking again after a 429 (Stripe's rate limit: nothing was processed), each with up to 50% jitter.
RATE_LIMIT_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
# The first key of the two-key advisory lock held while one attempt is charged ("st" in ASCII): apart from the
# one-key locks the billing scheduler takes per subscription.
CHARGE_LOCK_CLASS = 0x7374
PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,95}")
STRIPE_TOKEN = re.compile(r"(cus_[A-Za-z0-9_]+)/(pm_[A-Za-z0-9_]+)")
UNKNOWN_TOKEN = ("unknown card token: give the id of a Stripe PaymentMethod (pm_...) that Stripe.js made with your "
                 "publishable key")


@dataclass(frozen=True)
class StripeCard:
    """A card recur can charge at Stripe: the Customer it is attached to and its PaymentMethod."""

    customer: str
    payment_method: str

    @property
    def token(self) -> str:
        return f"{self.customer}/{self.payment_method}"

    @classmethod
    def parse(cls, token: str) -> StripeCard | None:
        found = STRIPE_TOKEN.fullmatch(token)
        return cls(found[1], found[2]) if found else None


def unavailable(error: stripe.StripeError, doing: str) -> GatewayUnavailableError:
    """Why Stripe gave no usable answer, in words that hold no secret (Stripe's message for a refused key quotes part
    of the key, so Stripe's messages are never passed on)."""
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayUnavailableError(f"Stripe refused recur's API key while {doing} (HTTP {error.http_status}): "
                                       "check RECUR_STRIPE_API_KEY")
    if isinstance(error, stripe.APIConnectionError):
        return GatewayUnavailableError(f"no answer from Stripe while {doing} (timeout or connection error)")
    return GatewayUnavailableError(f"Stripe answered HTTP {error.http_status} ({error.code or type(error).__name__}) while {doing}")


class StripeGateway:
    """PaymentGateway over Stripe. Cards only: boleto through Stripe is not supported."""

    payment_methods = frozenset({"card"})
    # Stripe allows about 100 requests/s in live mode and 25/s in test mode; a charge is two requests (the look-up and
    # the PaymentIntent) of 300-800 ms each, and each holds one database connection (the per-key lock) meanwhile.
    max_in_flight = 16

    def __init__(self, db: Database, api_key: str, api_base: str, webhook_secret: str | None,
                 timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                 pause: Callable[[float], None] = time.sleep) -> None:
        self.db = db
        self._pause = pause
        # Retries are recur's own (by looking the attempt up): the SDK's would repeat a charge whose answer was lost.
        self.client = stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=0,
                                          http_client=stripe.RequestsClient(timeout=timeout))
        self.notices = StripeNotices(self.client, webhook_secret, self._call)

    # ------------------------------------------------------------------ cards
    def prepare_card(self, card_token: str, holder: CardHolder, replacing: str | None = None) -> CardToken:
        if not PAYMENT_METHOD_ID.fullmatch(card_token):
            raise UnknownCardTokenError(UNKNOWN_TOKEN)
        previous = StripeCard.parse(replacing) if replacing else None
        customer = previous.customer if previous else self._new_customer(holder)
        try:
            method = self._attach(card_token, customer)
        except stripe.InvalidRequestError as error:
            if previous is None or error.param != "customer":
                raise UnknownCardTokenError(f"{UNKNOWN_TOKEN} (Stripe: {error.code or 'invalid request'})") from None
            method = self._attach(card_token, self._new_customer(holder))  # the previous customer was deleted at Stripe
        card = method.get("card") or {}
        if method.get("type") != "card" or not card.get("last4"):
            raise UnknownCardTokenError("the PaymentMethod is not a card: recur charges cards only")
        return CardToken(StripeCard(str(method["customer"]), str(method["id"])).token, str(card.get("brand") or "unknown"),
                         str(card["last4"]))

    def _new_customer(self, holder: CardHolder) -> str:
        created = self._call("creating a customer", lambda: self.client.v1.customers.create(
            {"name": holder.name, "email": holder.email, "description": "a subscriber of recur"}))
        return str(created["id"])

    def _attach(self, payment_method: str, customer: str) -> dict[str, Any]:
        """The PaymentMethod attached to the customer. A card the issuer refuses here (Stripe checks it) is a
        CardRefusedError; an id Stripe does not know is an InvalidRequestError for the caller to word."""
        try:
            attached = self._call("attaching a card", lambda: self.client.v1.payment_methods.attach(payment_method, {"customer": customer}),
                                  passing=(stripe.CardError, stripe.InvalidRequestError))
        except stripe.CardError as error:
            decline_code = getattr(error.error, "decline_code", None) if error.error else None
            raise CardRefusedError(reason_for(error.code, decline_code), error.user_message or "the card was declined") from None
        return attached.to_dict()

    # ---------------------------------------------------------------- charges
    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        card = StripeCard.parse(token)
        if card is None:
            raise UnknownCardTokenError(f"not a card recur keeps at Stripe (attempt {idempotency_key}): the payment method must change")
        with self._alone_with(idempotency_key):
            earlier = self._find_intent(card.customer, idempotency_key)
            if earlier is not None:
                log.info("charge %s: found at Stripe as %s (%s)", idempotency_key, earlier["id"], earlier.get("status"))
                return self._settled(earlier, idempotency_key)
            return self._create_intent(idempotency_key, card, amount, currency, subscription_id)

    @contextmanager
    def _alone_with(self, idempotency_key: str) -> Iterator[None]:
        """One process at a time looks an attempt up and charges it. Another that holds it (the API's first charge
        while the scheduler visits the same attempt) may be charging right now: the outcome is unknown, not waited for."""
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", (CHARGE_LOCK_CLASS, idempotency_key))
            if not cur.fetchone()[0]:
                raise GatewayOutcomeUnknown(f"attempt {idempotency_key} is being charged by another process right now")
            yield

    def _find_intent(self, customer: str, idempotency_key: str) -> dict[str, Any] | None:
        """The customer's PaymentIntent that carries this attempt key, if Stripe has one (a succeeded one first)."""
        def matching() -> list[dict[str, Any]]:
            listed = self.client.v1.payment_intents.list({"customer": customer, "limit": 100})
            every = (intent.to_dict() for intent in listed.auto_paging_iter())
            return [intent for intent in every if (intent.get("metadata") or {}).get("recur_key") == idempotency_key]

        found = self._call(f"looking attempt {idempotency_key} up", matching, unknown=True)
        found.sort(key=lambda intent: intent.get("status") != "succeeded")
        return found[0] if found else None

    def _create_intent(self, idempotency_key: str, card: StripeCard, amount: int, currency: str, subscription_id: str) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": amount, "currency": currency.lower(), "customer": card.customer, "payment_method": card.payment_method,
            "payment_method_types": ["card"], "off_session": True, "confirm": True,
            "metadata": {"recur_key": idempotency_key, "subscription_id": subscription_id},
        }
        try:
            created = self._call(f"charging attempt {idempotency_key}", lambda: self.client.v1.payment_intents.create(
                params, {"idempotency_key": idempotency_key}), unknown=True, passing=(stripe.CardError, stripe.InvalidRequestError))
        except stripe.CardError as error:
            # Stripe answers a refused off-session charge with 402 and the PaymentIntent inside the error.
            intent = getattr(error.error, "payment_intent", None) if error.error else None
            if intent is not None:
                return self._settled(intent.to_dict(), idempotency_key)
            decline_code = getattr(error.error, "decline_code", None) if error.error else None
            return ChargeResult(False, "", reason_for(error.code, decline_code))
        except stripe.InvalidRequestError as error:
            # Stripe refused the request itself, so nothing was charged: a card or customer deleted at Stripe will not
            # come back (a hard decline: billing waits for a new card); anything else is a processing error.
            log.warning("charge %s: Stripe refused the request (%s, %s)", idempotency_key, error.code, error.param)
            return ChargeResult(False, "", "invalid_account" if error.code == "resource_missing" else "processing_error")
        return self._settled(created.to_dict(), idempotency_key)

    def _settled(self, intent: dict[str, Any], idempotency_key: str) -> ChargeResult:
        outcome = outcome_of(intent)
        if outcome is None:
            raise GatewayOutcomeUnknown(f"attempt {idempotency_key}: PaymentIntent {intent.get('id')} is {intent.get('status')}, "
                                        "not yet approved or refused")
        return outcome

    def _call(self, doing: str, request: Callable[[], T], unknown: bool = False,
              passing: tuple[type[stripe.StripeError], ...] = ()) -> T:
        """One request to Stripe, its wait not counted as database time. Errors in `passing` reach the caller as they
        are; any other leaves nothing known: GatewayOutcomeUnknown for a charge (`unknown`), else GatewayUnavailableError."""
        for delay in (*RATE_LIMIT_BACKOFF_S, None):
            try:
                with waiting_elsewhere():
                    return request()
            except passing:
                raise
            except stripe.RateLimitError as error:
                if delay is None:
                    reason = unavailable(error, doing)
                    raise (GatewayOutcomeUnknown(str(reason)) if unknown else reason) from None
                # Stripe processed nothing: the same request, after a pause that grows, with jitter so that the calls
                # of one billing run do not come back all at once.
                log.info("Stripe rate-limited recur while %s: trying again in %.1f s", doing, delay)
                with waiting_elsewhere():
                    self._pause(delay * (1 + random.random() / 2))  # noqa: S311 - jitter, not a secret
            except stripe.StripeError as error:
                reason = unavailable(error, doing)
                raise (GatewayOutcomeUnknown(str(reason)) if unknown else reason) from None
        raise AssertionError("unreachable: the last round raises or returns")

    # ---------------------------------------------------------------- refunds
    def refund(self, idempotency_key: str, charge_id: str, amount: int, currency: str) -> RefundResult:
        """A Stripe Refund of the PaymentIntent, once per refund key: looked up among the PaymentIntent's refunds by
        `metadata.recur_key` before one is created, as charges are (and under the same kind of lock)."""
        if not charge_id.startswith("pi_"):
            return RefundResult("failed", None, "charge_not_found")  # not a charge recur made through Stripe
        with self._alone_with(idempotency_key):
            earlier = self._find_refund(charge_id, idempotency_key)
            if earlier is not None:
                return refund_result(earlier)
            params = {"payment_intent": charge_id, "amount": amount, "metadata": {"recur_key": idempotency_key}}
            try:
                created = self._call(f"refunding {idempotency_key}", lambda: self.client.v1.refunds.create(
                    params, {"idempotency_key": idempotency_key}), unknown=True, passing=(stripe.InvalidRequestError,))
            except stripe.InvalidRequestError as error:
                # Stripe refused the refund itself (more than is left of the charge, a charge not paid): nothing moved.
                log.warning("refund %s: Stripe refused it (%s)", idempotency_key, error.code)
                return RefundResult("failed", None, error.code or "refund_refused")
            return refund_result(created.to_dict())

    def _find_refund(self, payment_intent: str, idempotency_key: str) -> dict[str, Any] | None:
        def matching() -> list[dict[str, Any]]:
            listed = self.client.v1.refunds.list({"payment_intent": payment_intent, "limit": 100})
            every = (refund.to_dict() for refund in listed.auto_paging_iter())
            return [refund for refund in every if (refund.get("metadata") or {}).get("recur_key") == idempotency_key]

        found = self._call(f"looking refund {idempotency_key} up", matching, unknown=True)
        return found[0] if found else None

    # ---------------------------------------------------------------- boletos
    def issue_boleto(self, idempotency_key: str, subscription_id: str, amount: int, currency: str) -> BoletoResult:
        raise PaymentMethodUnavailableError("boleto is not available with RECUR_GATEWAY=stripe")

    def boleto(self, boleto_id: str) -> IssuedBoleto | None:
        return None  # recur issues no boleto through Stripe

    def mark_boleto_paid(self, boleto_id: str) -> None:
        raise PaymentMethodUnavailableError("boleto is not available with RECUR_GATEWAY=stripe")

    # ---------------------------------------------------------------- notices
    def read_notice(self, source: str, payload: bytes, signature: str | None) -> GatewayNotice:
        return self.notices.read(source, payload, signature)
