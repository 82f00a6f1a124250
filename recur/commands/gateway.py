"""The payment gateway port. recur asks for charges and boletos by idempotency key: the same key
always yields the same result and never a second charge."""

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
    token: str
    brand: str
    last4: str


class UnknownCardTokenError(Exception):
    """The token was never issued by the gateway."""


class PaymentGateway(Protocol):
    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str) -> ChargeResult: ...

    def issue_boleto(self, idempotency_key: str, subscription_id: str, amount: int, currency: str) -> BoletoResult: ...

    def describe_token(self, token: str) -> CardToken: ...

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
