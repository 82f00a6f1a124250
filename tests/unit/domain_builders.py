"""Builders shared by the domain unit tests: plan terms, subscriptions, charges, a fake gateway (charges and refunds).

Time always comes in as an argument, as in the domain: tests move their own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recur.domain.actor import Actor
from recur.domain.money import Money
from recur.domain.refunds import RefundRequest
from recur.domain.retry import RetryPolicy
from recur.domain.subscription import ChargeRequest, PlanTerms, Subscription

ACTOR: Actor = {"kind": "system", "id": "test", "request_id": ""}
JAN_31 = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
CARD: dict[str, Any] = {"type": "card", "token": "tok_4242", "brand": "visa", "last4": "4242"}
NEW_CARD: dict[str, Any] = {"type": "card", "token": "tok_5555", "brand": "mastercard", "last4": "4444"}
BOLETO: dict[str, Any] = {"type": "boleto"}


def utc(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def plan_terms(
    *,
    price: int = 1000,
    periodicity: str = "monthly",
    installments: int = 1,
    max_retries: int = 5,
    window_days: int = 15,
    reset_billing_date: bool = False,
    plan_id: str = "plan-basic",
    offer_id: str | None = None,
    renewal_reminder_days: int | None = None,
) -> PlanTerms:
    return PlanTerms(
        plan_id=plan_id,
        offer_id=offer_id,
        price=Money(price, "BRL"),
        periodicity=periodicity,
        installments=installments,
        retry_policy=RetryPolicy(max_retries, window_days, reset_billing_date),
        renewal_reminder_days=renewal_reminder_days,
    )


def start_subscription(
    *,
    terms: PlanTerms | None = None,
    trial_days: int = 0,
    payment_method: dict[str, Any] | None = None,
    at: datetime = JAN_31,
    product_id: str = "product-1",
) -> Subscription:
    return Subscription.start(
        code="SUB-0001",
        producer_id="producer-1",
        product_id=product_id,
        terms=terms or plan_terms(),
        trial_days=trial_days,
        subscriber={"name": "Ana Souza", "email": "ana@example.com", "country": "BR"},
        payment_method=payment_method or CARD,
        subscriber_token_hash="hash-of-the-subscriber-token",
        at=at,
        actor=ACTOR,
    )


def due_request(sub: Subscription, at: datetime, *, reprocess: bool = False) -> ChargeRequest:
    request = sub.begin_charge(at, ACTOR, reprocess=reprocess)
    assert request is not None, f"expected a charge due at {at.isoformat()}"
    return request


def charge_approved(sub: Subscription, at: datetime, *, reprocess: bool = False) -> ChargeRequest:
    request = due_request(sub, at, reprocess=reprocess)
    sub.record_charge_approved(request.key, f"gw-{request.key}", at, ACTOR)
    return request


def charge_refused(sub: Subscription, at: datetime, reason: str = "insufficient_funds", *, reprocess: bool = False) -> ChargeRequest:
    request = due_request(sub, at, reprocess=reprocess)
    sub.record_charge_refused(request.key, reason, at, ACTOR)
    return request


def pay_next_charge(sub: Subscription) -> ChargeRequest:
    """Charge the next installment on its due date, approved."""
    assert sub.next_charge_at is not None
    return charge_approved(sub, sub.next_charge_at)


def active_subscription(*, terms: PlanTerms | None = None, at: datetime = JAN_31) -> Subscription:
    sub = start_subscription(terms=terms, at=at)
    charge_approved(sub, at)
    return sub


def names(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def of_type(events: list[Any], name: str) -> list[Any]:
    return [e for e in events if type(e).__name__ == name]


def replay(events: list[Any]) -> Subscription:
    aggregate: Any = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert isinstance(aggregate, Subscription)
    return aggregate


@dataclass
class FakeGateway:
    """The gateway's ledger: one outcome per idempotency key, however often the key is charged."""

    ledger: dict[str, tuple[str, int]] = field(default_factory=dict)
    refunds: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # key -> (outcome, amount, gateway charge id)

    def charge(self, request: ChargeRequest, outcome: str) -> str:
        """Charge with `outcome` the first time a key is seen; a repeat returns the first outcome."""
        return self.ledger.setdefault(request.key, (outcome, request.amount.amount))[0]

    def boleto_paid(self, key: str, amount: int) -> None:
        """The bank's side of a boleto: money received for the charge with this key."""
        assert key not in self.ledger, f"boleto for {key} paid twice"
        self.ledger[key] = ("approved", amount)

    def approved(self, *, excluding: str | None = None) -> list[int]:
        return [amount for key, (outcome, amount) in self.ledger.items() if outcome == "approved" and key != excluding]

    def refund(self, request: RefundRequest, outcome: str) -> str:
        """Refund with `outcome` the first time a key is seen, as the sandbox does: a repeat returns the first
        outcome, except that a pending refund has succeeded by the time it is asked again."""
        known = self.refunds.get(request.key)
        if known is None:
            self.refunds[request.key] = (outcome, request.amount.amount, request.gateway_charge_id)
        elif known[0] == "pending":
            self.refunds[request.key] = ("succeeded", *known[1:])
        return self.refunds[request.key][0]

    def refunded(self, gateway_charge_id: str | None = None) -> int:
        """What went back (succeeded), of one charge or of all."""
        return sum(amount for outcome, amount, charge in self.refunds.values()
                   if outcome == "succeeded" and gateway_charge_id in (None, charge))
