"""The payment gateway port. recur asks for charges and boletos by idempotency key: the same key
always yields the same result and never a second charge.

Billing knows this module, never an adapter (recur/gateways/): the sandbox and Stripe both answer
through it, and recur.bootstrap decides which one a process gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    charge_id: str
    reason: str | None = None  # decline code when refused


@dataclass(frozen=True)
class RefundResult:
    """The gateway's answer to a refund. `pending`: accepted, not finished (ask again later with the same key)."""

    status: str  # succeeded | pending | failed
    gateway_refund_id: str | None
    reason: str | None = None  # why it failed


@dataclass(frozen=True)
class BoletoResult:
    boleto_id: str
    line: str


@dataclass(frozen=True)
class IssuedBoleto:
    """A boleto the gateway issued, and the subscription it was issued for."""

    boleto_id: str
    subscription_id: str


@dataclass(frozen=True)
class CardToken:
    """A card as recur keeps it: `token` is what later charges name (the gateway's reference, never a card
    number), `brand` and `last4` are what people are shown."""

    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class CardHolder:
    """Who a card is kept for: a gateway that keeps cards under a customer record (Stripe) names it so."""

    name: str
    email: str


class UnknownCardTokenError(Exception):
    """The token was never issued by the gateway (the message says where tokens come from)."""


class CardRefusedError(Exception):
    """The gateway refused to keep the card for later charges: nothing was stored, nothing charged."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


class PaymentMethodUnavailableError(Exception):
    """The gateway in use does not offer this payment method (boleto through Stripe)."""


class GatewayUnavailableError(Exception):
    """The gateway did not answer (timeout, connection error, 5xx) or refused our credentials: nothing is known
    to have happened, so the caller may try again later. Its message never holds a secret."""


class GatewayOutcomeUnknown(GatewayUnavailableError):
    """A charge was asked for and no answer came back: it may or may not have been made. Not a refusal: the
    attempt stays in flight, and a later call with the same idempotency key settles it (the gateway looks the
    key up before charging anything)."""


@dataclass(frozen=True)
class RefundedAtGateway:
    """Money given back outside recur (a refund made in the gateway's dashboard), on one of recur's charges."""

    subscription_id: str
    charge_id: str
    refund_id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class DisputeOpened:
    """The cardholder's bank disputes one of recur's charges (a chargeback)."""

    subscription_id: str
    charge_id: str
    dispute_id: str
    amount: int
    currency: str
    reason: str


@dataclass(frozen=True)
class DisputeClosed:
    """A dispute ended: `outcome` is "won" (the money stays with the producer) or "lost"."""

    subscription_id: str
    charge_id: str
    dispute_id: str
    outcome: str


GatewayFact = RefundedAtGateway | DisputeOpened | DisputeClosed


@dataclass(frozen=True)
class GatewayNotice:
    """One event a gateway posted to recur, its signature checked, in recur's terms. `facts` is empty when nothing
    in it concerns recur, and `ignored` then says why (an event type recur does not follow, a charge it did not make)."""

    event_id: str
    event_type: str
    facts: tuple[GatewayFact, ...] = ()
    ignored: str | None = None


class NotThisGatewayError(Exception):
    """Events posted for a gateway that is not the one in use (Stripe's webhook on a sandbox recur)."""


class NoticeSignatureError(Exception):
    """A posted event whose signature is missing, wrong or too old: it may not come from the gateway."""


class PaymentGateway(Protocol):
    # The payment methods this gateway can take: "card", "boleto".
    payment_methods: frozenset[str]

    def prepare_card(self, card_token: str, holder: CardHolder, replacing: str | None = None) -> CardToken:
        """The card a client's token names, made ready for charges without the subscriber present.

        `replacing` is the token of the card it replaces on the same subscription, if any (a gateway that keeps
        cards under a customer keeps the new one under the same customer). Raises UnknownCardTokenError,
        CardRefusedError or GatewayUnavailableError."""
        ...

    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        """Charge once per key: a repeated key answers the first outcome. Raises GatewayOutcomeUnknown when no
        outcome could be learnt."""
        ...

    def issue_boleto(self, idempotency_key: str, subscription_id: str, amount: int, currency: str) -> BoletoResult: ...

    def boleto(self, boleto_id: str) -> IssuedBoleto | None:
        """The boleto with this id, or None when the gateway never issued it."""
        ...

    def mark_boleto_paid(self, boleto_id: str) -> None:
        """Record in the gateway's own books that the bank was paid (after recur recorded it)."""
        ...

    def refund(self, idempotency_key: str, charge_id: str, amount: int, currency: str) -> RefundResult:
        """Refund `amount` of a charge the gateway made (`charge_id`: its own id, `boleto:<id>` for a paid boleto).

        Once per key, never twice: a repeat returns the first result, except that a refund answered `pending` is
        answered with how it stands now (still pending, or succeeded or failed once the gateway finished it).
        A refusal (more than is left of the charge, a charge it cannot refund) is a `failed` result, not an error.
        """
        ...

    def read_notice(self, source: str, payload: bytes, signature: str | None) -> GatewayNotice:
        """An event the gateway named `source` posted (the body exactly as received and its signature header),
        verified and translated. Raises NotThisGatewayError, NoticeSignatureError, GatewayUnavailableError."""
        ...
