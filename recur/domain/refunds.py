"""Refunds and disputes: what a subscription remembers of each paid charge, and the rules that keep money from going
back twice.

A refund is two-phase like a charge: `RefundRequested` (with the gateway idempotency key `<subscription>:r<n>`)
is recorded before the gateway is called, so the amount is reserved against the charge while the answer is
unknown; the answer is recorded against the same refund (`ChargeRefunded`, `RefundPending` or `RefundFailed`).
A refund in flight is due work: one whose answer never came (a crash) is asked again at once with its key, one the
gateway called pending is asked again `PENDING_REFUND_RECHECK` later.

What is left to refund of a charge is its amount less what was refunded, what is reserved by refunds in flight and
what was lost to disputes (a lost dispute is money gone back to the buyer, like a refund). While a dispute is open
the charge cannot be refunded: the card network decides, and a refund on top could return the money twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.money import Money

# A refund the gateway answered `pending` (money going back by bank transfer, a slow payment method) is asked about
# again this long after each pending answer; a gateway that tells recur first (a webhook) settles it sooner.
PENDING_REFUND_RECHECK = timedelta(hours=6)
DISPUTE_OUTCOMES = ("won", "lost")


def refund_id(subscription_id: object, number: int) -> str:
    """The n-th refund of a subscription, whoever made it: `<subscription>:r<n>`.

    For a refund recur makes it is also the gateway idempotency key, as a charge's key is its transaction id.
    """
    return f"{subscription_id}:r{number}"


@dataclass(frozen=True)
class PaidCharge:
    """An approved charge, named by its attempt key (the sales report's `transaction_id`)."""

    key: str
    gateway_charge_id: str
    amount: Money
    cycle: int
    installment: int
    method: str
    paid_at: datetime
    refunded: int = 0  # minor units the gateway confirmed refunded
    lost_to_disputes: int = 0  # minor units taken back by disputes the producer lost

    @property
    def returned(self) -> int:
        """Money that went back to the buyer: refunds and lost disputes."""
        return self.refunded + self.lost_to_disputes

    @property
    def fully_refunded(self) -> bool:
        return self.returned >= self.amount.amount


@dataclass(frozen=True)
class RefundRequest:
    """A refund the gateway must make, identified by its idempotency key."""

    refund_id: str
    key: str
    gateway_charge_id: str
    amount: Money


@dataclass(frozen=True)
class Refund:
    """One refund of one charge. `key` is None for a refund made at the gateway (its dashboard), which recur only records."""

    id: str
    key: str | None
    charge_key: str
    gateway_charge_id: str
    amount: Money
    reason: str | None
    status: str  # requested (answer unknown) | pending | succeeded | failed
    requested_at: datetime
    gateway_refund_id: str | None = None
    recheck_at: datetime | None = None
    settled_at: datetime | None = None
    failure_reason: str | None = None

    @property
    def in_flight(self) -> bool:
        return self.status in ("requested", "pending")

    @property
    def external(self) -> bool:
        return self.key is None

    def due_at(self) -> datetime | None:
        """When recur must ask the gateway about it: at once when the answer never came, later when it was pending."""
        if self.status == "requested":
            return self.requested_at
        if self.status == "pending":
            return self.recheck_at
        return None

    def request(self) -> RefundRequest:
        assert self.key is not None, "only refunds recur made are asked of the gateway"
        return RefundRequest(self.id, self.key, self.gateway_charge_id, self.amount)


@dataclass(frozen=True)
class Dispute:
    """A chargeback the buyer opened with their card issuer; `outcome` is won or lost once closed."""

    id: str
    charge_key: str
    amount: Money
    reason: str | None
    opened_at: datetime
    outcome: str | None = None
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True)
class RefundBook:
    """The subscription's paid charges, refunds and disputes, and the rules over them (a view: it records nothing)."""

    charges: Mapping[str, PaidCharge]
    refunds: Mapping[str, Refund]
    disputes: Mapping[str, Dispute]

    def next_refund_number(self) -> int:
        return len(self.refunds) + 1

    def charge_paid_as(self, gateway_charge_id: str) -> PaidCharge | None:
        return next((c for c in self.charges.values() if c.gateway_charge_id == gateway_charge_id), None)

    def refund_named_at_gateway(self, gateway_refund_id: str) -> Refund | None:
        return next((r for r in self.refunds.values() if r.gateway_refund_id == gateway_refund_id), None)

    def reserved(self, charge_key: str) -> int:
        """Minor units of refunds of this charge whose answer is not in yet."""
        return sum(r.amount.amount for r in self.refunds.values() if r.charge_key == charge_key and r.in_flight)

    def left(self, charge: PaidCharge) -> int:
        """What may still be refunded of the charge."""
        return max(0, charge.amount.amount - charge.returned - self.reserved(charge.key))

    def open_dispute(self, charge_key: str) -> Dispute | None:
        return next((d for d in self.disputes.values() if d.charge_key == charge_key and d.open), None)

    def plan_refund(self, charge_key: str | None, amount: Money | None) -> tuple[PaidCharge, Money]:
        """The charge to refund and how much: by default the last approved charge, all that is left of it."""
        if not self.charges:
            raise InvalidStateError("the subscription has no paid charge to refund")
        if charge_key is None:
            charge = list(self.charges.values())[-1]
        elif charge_key in self.charges:
            charge = self.charges[charge_key]
        else:
            raise RuleViolationError(
                f"no approved charge {charge_key} on this subscription: name the transaction_id of an approved charge", "charge_id"
            )
        dispute = self.open_dispute(charge.key)
        if dispute is not None:
            raise InvalidStateError(f"charge {charge.key} is disputed ({dispute.id}): the dispute decides where its money goes")
        left = self.left(charge)
        if amount is None:
            if left == 0:
                raise InvalidStateError(f"nothing is left to refund of charge {charge.key}")
            return charge, Money(left, charge.amount.currency)
        if amount.currency != charge.amount.currency:
            raise RuleViolationError(f"the charge was paid in {charge.amount.currency}: refund it in that currency", "currency")
        if amount.amount < 1:
            raise RuleViolationError("a refund is at least 1 minor unit", "amount")
        if amount.amount > left:
            raise RuleViolationError(f"at most {left} minor units are left to refund of charge {charge.key}", "amount")
        return charge, amount

    def due(self, at: datetime) -> list[Refund]:
        """Refunds recur must ask the gateway about by `at`, oldest first."""
        return [r for r in self.refunds.values() if (due := r.due_at()) is not None and due <= at]

    def due_times(self) -> list[datetime]:
        return [due for r in self.refunds.values() if (due := r.due_at()) is not None]
