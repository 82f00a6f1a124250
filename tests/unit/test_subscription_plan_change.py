"""A plan change takes effect at the next renewal: the new price and periodicity from then on."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

import pytest
from domain_builders import (
    ACTOR,
    BOLETO,
    JAN_31,
    active_subscription,
    charge_approved,
    charge_refused,
    due_request,
    of_type,
    pay_next_charge,
    plan_terms,
    start_subscription,
    utc,
)

from recur.domain.errors import InvalidStateError, RuleViolationError

QUARTERLY = plan_terms(price=2700, periodicity="quarterly", plan_id="plan-quarterly")
ANNUAL = plan_terms(price=10000, periodicity="annual", plan_id="plan-annual")


def test_a_plan_change_takes_effect_at_the_next_renewal_with_the_new_price_and_periodicity() -> None:
    sub = active_subscription()

    sub.change_plan(QUARTERLY, "product-1", utc(2024, 2, 10), ACTOR)

    (changed,) = of_type(list(sub.collect_events()), "PlanChanged")
    assert (changed.from_plan_id, changed.effective_at) == ("plan-basic", utc(2024, 2, 29))
    assert (sub.plan_id, sub.periodicity, sub.price.amount) == ("plan-basic", "monthly", 1000)
    assert sub.current_period_end == utc(2024, 2, 29)

    renewal = pay_next_charge(sub)

    assert (renewal.amount.amount, renewal.cycle) == (2700, 2)
    assert (sub.plan_id, sub.periodicity, sub.price.amount) == ("plan-quarterly", "quarterly", 2700)
    assert (sub.current_period_start, sub.current_period_end) == (utc(2024, 2, 29), utc(2024, 5, 31))
    assert sub.next_charge_at == utc(2024, 5, 31)
    assert pay_next_charge(sub).amount.amount == 2700


def test_a_plan_change_during_the_trial_applies_to_the_first_charge() -> None:
    sub = start_subscription(trial_days=7)

    sub.change_plan(QUARTERLY, "product-1", JAN_31 + timedelta(days=1), ACTOR)

    assert sub.periodicity == "quarterly"
    first = charge_approved(sub, JAN_31 + timedelta(days=7))
    assert first.amount.amount == 2700
    assert sub.current_period_end == utc(2024, 5, 7)


def test_a_plan_change_keeps_the_installments_within_the_new_period() -> None:
    annual_in_12 = plan_terms(price=120000, periodicity="annual", installments=12)
    sub = active_subscription(terms=annual_in_12, at=utc(2024, 1, 10))
    semiannual = plan_terms(price=60000, periodicity="semiannual", plan_id="plan-semiannual")
    sub.change_plan(semiannual, "product-1", utc(2024, 1, 11), ACTOR)
    for _ in range(11):
        pay_next_charge(sub)

    renewal = pay_next_charge(sub)

    assert (renewal.cycle, renewal.installment, renewal.amount.amount) == (2, 1, 10000)
    assert (sub.installments, sub.current_period_end) == (6, utc(2025, 7, 10))


def test_a_plan_of_another_product_is_refused() -> None:
    sub = active_subscription()
    with pytest.raises(RuleViolationError):
        sub.change_plan(QUARTERLY, "product-2", utc(2024, 2, 10), ACTOR)


def test_changing_to_the_current_plan_is_a_conflict() -> None:
    sub = active_subscription()
    with pytest.raises(InvalidStateError):
        sub.change_plan(plan_terms(), "product-1", utc(2024, 2, 10), ACTOR)


def test_a_cancelled_subscription_cannot_change_plan() -> None:
    sub = active_subscription()
    sub.cancel("customer", None, "now", utc(2024, 2, 1), ACTOR)
    with pytest.raises(InvalidStateError):
        sub.change_plan(QUARTERLY, "product-1", utc(2024, 2, 10), ACTOR)


def test_a_plan_change_while_the_renewal_is_being_paid_does_not_apply_to_that_renewal() -> None:
    sub = start_subscription(payment_method=BOLETO)
    first = due_request(sub, JAN_31)
    sub.record_boleto_issued(first.key, "boleto-1", "line-1", JAN_31, ACTOR)
    sub.record_boleto_paid("boleto-1", JAN_31, ACTOR)
    renewal = due_request(sub, utc(2024, 2, 29))
    sub.record_boleto_issued(renewal.key, "boleto-2", "line-2", utc(2024, 2, 29), ACTOR)

    with suppress(InvalidStateError):  # refusing the change while the renewal is open would be a fix too
        sub.change_plan(ANNUAL, "product-1", utc(2024, 3, 1), ACTOR)
    sub.record_boleto_paid("boleto-2", utc(2024, 3, 1), ACTOR)

    assert renewal.amount.amount == 1000
    assert sub.current_period_end == utc(2024, 3, 31)  # a month for a month's price
    assert sub.next_charge_at == utc(2024, 3, 31)


def test_a_plan_change_during_the_retries_of_the_first_charge_keeps_them_in_the_window() -> None:
    sub = start_subscription(terms=plan_terms(max_retries=5, window_days=15))
    charge_refused(sub, JAN_31)
    cheaper = plan_terms(price=500, plan_id="plan-cheap", max_retries=2, window_days=60)
    with suppress(InvalidStateError):  # refusing the change while retrying would be a fix too
        sub.change_plan(cheaper, "product-1", JAN_31 + timedelta(hours=1), ACTOR)

    charge_refused(sub, JAN_31 + timedelta(days=3))

    assert sub.retry is not None
    assert sub.retry.next_retry_at is not None and sub.retry.next_retry_at <= sub.retry.window_ends_at
