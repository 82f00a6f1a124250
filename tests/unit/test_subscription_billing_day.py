"""A billing day change moves the next charges to that day of the month."""

from __future__ import annotations

from datetime import datetime

import pytest
from domain_builders import (
    ACTOR,
    JAN_31,
    active_subscription,
    due_request,
    of_type,
    pay_next_charge,
    plan_terms,
    start_subscription,
    utc,
)

from recur.domain.errors import InvalidStateError, RuleViolationError


def test_a_billing_day_change_moves_the_next_charges_to_that_day() -> None:
    sub = active_subscription()

    sub.change_billing_day(10, utc(2024, 2, 5), ACTOR)

    (changed,) = of_type(list(sub.collect_events()), "BillingDayChanged")
    assert (changed.day, changed.next_charge_at) == (10, utc(2024, 2, 10))
    assert sub.next_charge_at == sub.next_due_at == sub.current_period_end == utc(2024, 2, 10)
    pay_next_charge(sub)
    assert sub.next_charge_at == utc(2024, 3, 10)
    pay_next_charge(sub)
    assert sub.next_charge_at == utc(2024, 4, 10)


@pytest.mark.parametrize(("day", "next_charge"), [(20, utc(2024, 3, 20)), (5, utc(2024, 3, 5))])
def test_a_billing_day_change_stretches_or_shrinks_the_current_period(day: int, next_charge: datetime) -> None:
    sub = active_subscription(at=utc(2024, 1, 10))
    pay_next_charge(sub)  # Feb 10

    sub.change_billing_day(day, utc(2024, 2, 15), ACTOR)

    assert sub.next_charge_at == sub.current_period_end == next_charge


def test_a_billing_day_change_on_installments_moves_the_next_installment() -> None:
    sub = active_subscription(terms=plan_terms(price=30000, periodicity="quarterly", installments=3), at=utc(2024, 1, 10))

    sub.change_billing_day(20, utc(2024, 1, 15), ACTOR)

    assert sub.next_charge_at == utc(2024, 2, 20)
    assert (pay_next_charge(sub).installment, sub.next_charge_at) == (2, utc(2024, 3, 20))
    assert (pay_next_charge(sub).installment, sub.next_charge_at) == (3, utc(2024, 4, 20))


@pytest.mark.parametrize("day", [0, 29, 31])
def test_a_billing_day_is_between_1_and_28(day: int) -> None:
    sub = active_subscription()
    with pytest.raises(RuleViolationError):
        sub.change_billing_day(day, utc(2024, 2, 5), ACTOR)


def test_the_billing_day_of_a_subscription_not_yet_active_cannot_change() -> None:
    for sub in (start_subscription(), start_subscription(trial_days=7)):
        with pytest.raises(InvalidStateError):
            sub.change_billing_day(10, JAN_31, ACTOR)


def test_the_billing_day_cannot_change_while_a_charge_awaits_its_result() -> None:
    sub = active_subscription()
    due_request(sub, utc(2024, 2, 29))
    with pytest.raises(InvalidStateError):
        sub.change_billing_day(10, utc(2024, 2, 29), ACTOR)


def test_a_billing_day_change_keeps_the_start_of_the_paid_period() -> None:
    sub = active_subscription()

    sub.change_billing_day(10, utc(2024, 2, 5), ACTOR)

    assert sub.current_period_start == JAN_31
