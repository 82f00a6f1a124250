"""Stripe's webhook events in recur's terms: refunds made in Stripe's dashboard and disputes (chargebacks).

An event is believed only once its `Stripe-Signature` is verified with the endpoint's secret (the SDK's own check:
HMAC-SHA256 of `<t>.<body>`, and a timestamp at most five minutes old, against replays). The charge it concerns is
found from its PaymentIntent, whose metadata recur wrote when it charged (`subscription_id`, `recur_key`): an event
about a charge recur did not make is ignored. What a refund event carries is not trusted to be complete (since
2022-11-15 Stripe no longer embeds a charge's refunds in it): the succeeded refunds of the PaymentIntent are listed
instead, every one of them: recur's refund commands recognise those recur made itself (and those already recorded)
by their ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

from recur.commands.gateway import (
    DisputeClosed,
    DisputeOpened,
    GatewayFact,
    GatewayNotice,
    NoticeSignatureError,
    NotThisGatewayError,
    RefundedAtGateway,
)

Call = Callable[..., Any]
REFUND_EVENTS = ("charge.refunded", "charge.refund.updated")
# A closed dispute's status -> who kept the money. `warning_closed`: an inquiry that never became a chargeback.
DISPUTE_OUTCOMES = {"won": "won", "warning_closed": "won", "lost": "lost"}


class StripeNotices:
    def __init__(self, client: stripe.StripeClient, webhook_secret: str | None, call: Call) -> None:
        self.client, self.webhook_secret, self.call = client, webhook_secret, call

    def read(self, source: str, payload: bytes, signature: str | None) -> GatewayNotice:
        if source != "stripe":
            raise NotThisGatewayError(f"the gateway in use is Stripe, not {source}")
        event = self._verified(payload, signature)
        kind, found = str(event.get("type")), (event.get("data") or {}).get("object") or {}
        if kind in REFUND_EVENTS:
            return self._notice(event, self._payment_intent_of(found), self._refunds)
        if kind == "charge.dispute.created":
            return self._notice(event, self._payment_intent_of(found), lambda sub, intent: [DisputeOpened(
                sub, intent, str(found["id"]), int(found["amount"]), str(found["currency"]).upper(), str(found.get("reason") or ""))])
        if kind == "charge.dispute.closed":
            outcome = DISPUTE_OUTCOMES.get(str(found.get("status")))
            if outcome is None:
                return GatewayNotice(str(event["id"]), kind, ignored=f"a dispute closed with status {found.get('status')}")
            return self._notice(event, self._payment_intent_of(found), lambda sub, intent: [
                DisputeClosed(sub, intent, str(found["id"]), outcome)])
        return GatewayNotice(str(event["id"]), kind, ignored="recur does not follow this type of event")

    def _verified(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        if not self.webhook_secret:
            raise NoticeSignatureError("RECUR_STRIPE_WEBHOOK_SECRET is not set: no event can be verified")
        if not signature:
            raise NoticeSignatureError("the Stripe-Signature header is missing")
        try:
            event = self.client.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError:
            raise NoticeSignatureError("the Stripe-Signature header does not match this body and secret, or is too old") from None
        except ValueError:
            raise NoticeSignatureError("the body is not a Stripe event") from None
        verified: dict[str, Any] = event.to_dict()
        return verified

    def _notice(self, event: dict[str, Any], payment_intent: str | None,
                facts: Callable[[str, str], list[GatewayFact]]) -> GatewayNotice:
        """The facts of an event about one PaymentIntent, or why it is ignored when recur did not make that charge."""
        subscription_id = self._subscription_of(payment_intent) if payment_intent else None
        if payment_intent is None or subscription_id is None:
            return GatewayNotice(str(event["id"]), str(event["type"]), ignored="a charge recur did not make")
        return GatewayNotice(str(event["id"]), str(event["type"]), tuple(facts(subscription_id, payment_intent)))

    def _payment_intent_of(self, found: dict[str, Any]) -> str | None:
        """The PaymentIntent a charge, refund or dispute belongs to: named in it, or through its charge."""
        if found.get("payment_intent"):
            return str(found["payment_intent"])
        charge_id = found.get("id") if found.get("object") == "charge" else found.get("charge")
        if not charge_id:
            return None
        charge = self.call("reading a charge", lambda: self.client.v1.charges.retrieve(str(charge_id))).to_dict()
        return str(charge["payment_intent"]) if charge.get("payment_intent") else None

    def _subscription_of(self, payment_intent: str) -> str | None:
        try:
            intent = self.call("reading a PaymentIntent", lambda: self.client.v1.payment_intents.retrieve(payment_intent),
                               passing=(stripe.InvalidRequestError,)).to_dict()
        except stripe.InvalidRequestError:
            return None  # not one of this account's PaymentIntents
        metadata = intent.get("metadata") or {}
        if metadata.get("subscription_id"):
            return str(metadata["subscription_id"])
        key = str(metadata.get("recur_key") or "")
        return key.partition(":")[0] or None  # an attempt key starts with its subscription's id

    def _refunds(self, subscription_id: str, payment_intent: str) -> list[GatewayFact]:
        """Every succeeded refund of the PaymentIntent."""
        def listed() -> list[dict[str, Any]]:
            refunds = self.client.v1.refunds.list({"payment_intent": payment_intent, "limit": 100})
            return [refund.to_dict() for refund in refunds.auto_paging_iter()]

        return [RefundedAtGateway(subscription_id, payment_intent, str(refund["id"]), int(refund["amount"]),
                                  str(refund["currency"]).upper())
                for refund in self.call("listing refunds", listed)
                if refund.get("status") == "succeeded"]
