"""The catalog: producers (sellers), their products, plans and offers.

A plan's or offer's price edit applies only to subscriptions started afterwards: each
subscription copies the price when it starts, so the catalog never rewrites a promise.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from recur.domain.actor import Actor
from recur.domain.calendar import PERIOD_MONTHS
from recur.domain.errors import RuleViolationError
from recur.domain.money import Money
from recur.domain.retry import RetryPolicy


class Producer(Aggregate):
    """A seller. Its API key is stored only as a hash: a leaked database leaks no credentials."""

    @event("ProducerRegistered")
    def __init__(self, name: str, email: str, api_key_hash: str, actor: Actor) -> None:
        self.name = name
        self.email = email
        self.api_key_hash = api_key_hash


class Product(Aggregate):
    @event("ProductCreated")
    def __init__(self, producer_id: str, name: str, actor: Actor) -> None:
        self.producer_id = producer_id
        self.name = name


def check_plan_terms(periodicity: str, max_installments: int, trial_days: int) -> None:
    if periodicity not in PERIOD_MONTHS:
        raise RuleViolationError(f"periodicity must be one of {', '.join(PERIOD_MONTHS)}", "periodicity")
    if not 1 <= max_installments <= PERIOD_MONTHS[periodicity]:
        raise RuleViolationError(
            f"max_installments must be between 1 and {PERIOD_MONTHS[periodicity]} for a {periodicity} plan",
            "max_installments",
        )
    if trial_days < 0:
        raise RuleViolationError("trial_days must be >= 0", "trial_days")


def check_reminder(days: int | None) -> None:
    if days is not None and (not isinstance(days, int) or not 1 <= days <= 60):
        raise RuleViolationError("renewal_reminder_days must be null or between 1 and 60", "renewal_reminder_days")


def check_price(price: Money) -> None:
    if price.amount <= 0:
        raise RuleViolationError("price.amount must be a positive number of minor units", "price")


class Plan(Aggregate):
    """What a subscriber pays, how often, and how refused charges are retried."""

    @classmethod
    def define(
        cls,
        *,
        producer_id: str,
        product_id: str,
        name: str,
        periodicity: str,
        price: Money,
        trial_days: int,
        max_installments: int,
        retry_policy: RetryPolicy,
        renewal_reminder_days: int | None,
        actor: Actor,
    ) -> Plan:
        check_plan_terms(periodicity, max_installments, trial_days)
        check_price(price)
        check_reminder(renewal_reminder_days)
        return cls(
            producer_id=producer_id,
            product_id=product_id,
            name=name,
            periodicity=periodicity,
            price=price.as_dict(),
            trial_days=trial_days,
            max_installments=max_installments,
            retry_policy=retry_policy.as_dict(),
            renewal_reminder_days=renewal_reminder_days,
            actor=actor,
        )

    @event("PlanCreated")
    def __init__(
        self,
        producer_id: str,
        product_id: str,
        name: str,
        periodicity: str,
        price: dict[str, Any],
        trial_days: int,
        max_installments: int,
        retry_policy: dict[str, Any],
        renewal_reminder_days: int | None,
        actor: Actor,
    ) -> None:
        self.producer_id = producer_id
        self.product_id = product_id
        self.name = name
        self.periodicity = periodicity
        self.price = price
        self.trial_days = trial_days
        self.max_installments = max_installments
        self.retry_policy = retry_policy
        self.renewal_reminder_days = renewal_reminder_days

    @property
    def period_months(self) -> int:
        return PERIOD_MONTHS[self.periodicity]

    @property
    def price_money(self) -> Money:
        return Money.from_dict(self.price)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy.from_dict(self.retry_policy)

    def revise(self, changes: dict[str, Any], actor: Actor) -> None:
        """Edit name, price, retry policy or reminder; only what actually changes is recorded."""
        if "retry_policy" in changes:
            RetryPolicy.from_dict(changes["retry_policy"])
        if "renewal_reminder_days" in changes:
            check_reminder(changes["renewal_reminder_days"])
        if "price" in changes:
            check_price(Money.from_dict(changes["price"]))
            if changes["price"]["currency"] != self.price["currency"]:
                raise RuleViolationError("a plan's currency cannot change", "price")
        current = {
            "name": self.name,
            "price": self.price,
            "retry_policy": self.retry_policy,
            "renewal_reminder_days": self.renewal_reminder_days,
        }
        effective = {k: v for k, v in changes.items() if k in current and current[k] != v}
        if effective:
            self._revised(changes=effective, actor=actor)

    @event("PlanRevised")
    def _revised(self, changes: dict[str, Any], actor: Actor) -> None:
        for key, value in changes.items():
            setattr(self, key, value)


class Offer(Aggregate):
    """A named alternative price for a plan (a launch discount, say), same locking rule."""

    @event("OfferCreated")
    def __init__(self, producer_id: str, plan_id: str, name: str, price: dict[str, Any], actor: Actor) -> None:
        self.producer_id = producer_id
        self.plan_id = plan_id
        self.name = name
        self.price = price

    def revise(self, changes: dict[str, Any], actor: Actor) -> None:
        if "price" in changes:
            check_price(Money.from_dict(changes["price"]))
            if changes["price"]["currency"] != self.price["currency"]:
                raise RuleViolationError("an offer's currency cannot change", "price")
        effective = {k: v for k, v in changes.items() if k in ("name", "price") and getattr(self, k) != v}
        if effective:
            self._revised(changes=effective, actor=actor)

    @event("OfferRevised")
    def _revised(self, changes: dict[str, Any], actor: Actor) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
