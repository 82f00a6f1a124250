"""Plan terms: what a subscription locks from the catalog when it starts or changes plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recur.domain.calendar import PERIOD_MONTHS
from recur.domain.money import Money
from recur.domain.retry import RetryPolicy


@dataclass(frozen=True)
class PlanTerms:
    """The price, period, installments and retry policy a subscription is billed on.

    A catalog edit never reaches a running subscription: it keeps the terms it locked until the
    subscriber changes plan. Events carry them as `as_dict()`; the aggregate holds this object.
    """

    plan_id: str
    offer_id: str | None
    price: Money
    periodicity: str
    installments: int
    retry_policy: RetryPolicy
    renewal_reminder_days: int | None = None

    @property
    def period_months(self) -> int:
        return PERIOD_MONTHS[self.periodicity]

    def installment_amounts(self) -> list[Money]:
        """The price split into this plan's installments (the remainder on the first)."""
        return self.price.split(self.installments)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "offer_id": self.offer_id,
            "price": self.price.as_dict(),
            "periodicity": self.periodicity,
            "installments": self.installments,
            "retry_policy": self.retry_policy.as_dict(),
            "renewal_reminder_days": self.renewal_reminder_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanTerms:
        """The terms as an event recorded them."""
        return cls(
            plan_id=data["plan_id"],
            offer_id=data["offer_id"],
            price=Money.from_dict(data["price"]),
            periodicity=data["periodicity"],
            installments=data["installments"],
            retry_policy=RetryPolicy.from_dict(data["retry_policy"]),
            renewal_reminder_days=data.get("renewal_reminder_days"),
        )
