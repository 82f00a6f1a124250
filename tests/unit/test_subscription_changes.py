"""Changes to a running subscription: plan, billing day, and cancellation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from domain_builders import (
    ACTOR,
    BOLETO,
    JAN_31,
    active_subscription,
    charge_approved,
    charge_refused,
    due_request,
    names,
    of_type,
    pay_next_charge,
    plan_terms,
    start_subscription,
    utc,
)

from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.subscription import ORIGINS

QUARTERLY = plan_terms(price=2700, periodicity="quarterly", plan_id="plan-quarterly")
ANNUAL = plan_terms(price=10000, periodicity="annual", plan_id="plan-annual")


# ---------------------------------------------------------------- plan change
def test_a_plan_change_takes_effect_at_the_next_renewal_with_the_new_price_and_periodicity() -> None:
    sub = active_subscription()

    sub.change_plan(QUARTERLY, "product-1", utc(2024, 2, 10), ACTOR)

    (changed,) = of_type(list(sub.collect_events()), "PlanChanged")
    assert (changed.from_plan_id, changed.effective_at) == ("plan-basic", utc(2024, 2, 29))
    assert (sub.plan_id, sub.periodicity, sub.price["amount"]) == ("plan-basic", "monthly", 1000)
    assert sub.current_period_end == utc(2024, 2, 29)

    renewal = pay_next_charge(sub)

    assert (renewal.amount.amount, renewal.cycle) == (2700, 2)
    assert (sub.plan_id, sub.periodicity, sub.price["amount"]) == ("plan-quarterly", "quarterly", 2700)
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


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a plan change while the renewal boleto (or card charge) is open is applied to the cycle that "
    "boleto pays: 1000 (monthly price) paid, the subscription becomes annual until 2025-02-28",
)
def test_a_plan_change_while_the_renewal_is_being_paid_does_not_apply_to_that_renewal() -> None:
    sub = start_subscription(payment_method=BOLETO)
    first = due_request(sub, JAN_31)
    sub.record_boleto_issued(first.key, "boleto-1", "line-1", JAN_31, ACTOR)
    sub.record_boleto_paid("boleto-1", JAN_31, ACTOR)
    renewal = due_request(sub, utc(2024, 2, 29))
    sub.record_boleto_issued(renewal.key, "boleto-2", "line-2", utc(2024, 2, 29), ACTOR)

    sub.change_plan(ANNUAL, "product-1", utc(2024, 3, 1), ACTOR)
    sub.record_boleto_paid("boleto-2", utc(2024, 3, 1), ACTOR)

    assert renewal.amount.amount == 1000
    assert sub.current_period_end == utc(2024, 3, 31)  # a month for a month's price
    assert sub.next_charge_at == utc(2024, 3, 31)


@pytest.mark.xfail(
    strict=True,
    reason="BUG: a plan change while the first charge is being retried swaps the retry policy mid-episode: the "
    "next retry (2024-03-31, new 60-day window) falls after the window_ends_at (2024-02-15) of the refusal",
)
def test_a_plan_change_during_the_retries_of_the_first_charge_keeps_them_in_the_window() -> None:
    sub = start_subscription(terms=plan_terms(max_retries=5, window_days=15))
    charge_refused(sub, JAN_31)
    cheaper = plan_terms(price=500, plan_id="plan-cheap", max_retries=2, window_days=60)
    sub.change_plan(cheaper, "product-1", JAN_31 + timedelta(hours=1), ACTOR)

    charge_refused(sub, JAN_31 + timedelta(days=3))

    assert sub.retry is not None
    assert sub.retry["next_retry_at"] <= sub.retry["window_ends_at"] == JAN_31 + timedelta(days=15)


# ---------------------------------------------------------------- billing day
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


@pytest.mark.xfail(
    strict=True,
    reason="BUG: change_billing_day rewrites current_period_start too: paid period Jan 31..Feb 29, day 10 "
    "set on Feb 5 -> current_period_start becomes Jan 10, before the subscription started",
)
def test_a_billing_day_change_keeps_the_start_of_the_paid_period() -> None:
    sub = active_subscription()

    sub.change_billing_day(10, utc(2024, 2, 5), ACTOR)

    assert sub.current_period_start == JAN_31


# ---------------------------------------------------------------- cancellation
@pytest.mark.parametrize("origin", ORIGINS)
def test_a_cancellation_now_stops_billing_at_once(origin: str) -> None:
    sub = active_subscription()

    sub.cancel(origin, "too expensive", "now", utc(2024, 2, 10), ACTOR)

    assert sub.status == "cancelled"
    assert (sub.cancelled_at, sub.cancellation) == (utc(2024, 2, 10), {"origin": origin, "reason": "too expensive"})
    assert (sub.next_charge_at, sub.next_due_at) == (None, None)
    assert sub.begin_charge(utc(2024, 2, 29), ACTOR) is None
    (cancelled,) = of_type(list(sub.collect_events()), "Cancelled")
    assert cancelled.origin == origin


@pytest.mark.parametrize("origin", ORIGINS)
def test_a_cancellation_at_period_end_lets_the_paid_period_run_and_skips_the_renewal(origin: str) -> None:
    sub = active_subscription()

    sub.cancel(origin, None, "period_end", utc(2024, 2, 10), ACTOR)

    assert (sub.status, sub.cancel_at) == ("active", utc(2024, 2, 29))
    assert (sub.next_charge_at, sub.next_due_at) == (None, utc(2024, 2, 29))
    assert sub.begin_charge(utc(2024, 2, 29), ACTOR) is None
    assert not sub.settle_due_housekeeping(utc(2024, 2, 29) - timedelta(seconds=1), ACTOR)
    assert sub.settle_due_housekeeping(utc(2024, 3, 2), ACTOR)
    assert (sub.status, sub.cancelled_at, sub.cancellation) == ("cancelled", utc(2024, 2, 29), {"origin": origin, "reason": None})
    assert names(list(sub.collect_events())).count("CancellationScheduled") == 1


def test_a_cancellation_at_period_end_still_collects_the_installments_of_the_cycle() -> None:
    sub = start_subscription(terms=plan_terms(price=30000, periodicity="quarterly", installments=3), at=utc(2024, 1, 10))
    pay_next_charge(sub)
    sub.cancel("customer", None, "period_end", utc(2024, 1, 20), ACTOR)

    assert [pay_next_charge(sub).installment for _ in range(2)] == [2, 3]
    assert sub.next_charge_at is None
    assert sub.settle_due_housekeeping(utc(2024, 4, 10), ACTOR)
    assert (sub.status, sub.total_paid) == ("cancelled", 30000)


def test_a_subscription_with_no_paid_period_is_cancelled_at_once_even_if_asked_for_period_end() -> None:
    sub = start_subscription()
    charge_refused(sub, JAN_31)

    sub.cancel("seller", None, "period_end", JAN_31 + timedelta(days=1), ACTOR)

    assert (sub.status, sub.retry, sub.next_due_at) == ("cancelled", None, None)


def test_a_cancellation_stops_the_retries_of_a_past_due_subscription() -> None:
    sub = active_subscription()
    charge_refused(sub, utc(2024, 2, 29))

    sub.cancel("admin", "chargeback", "now", utc(2024, 3, 1), ACTOR)

    assert sub.begin_charge(utc(2024, 3, 3), ACTOR) is None
    assert sub.begin_charge(utc(2024, 3, 3), ACTOR, reprocess=True) is None


def test_a_charge_already_sent_when_cancelling_is_recorded_without_reactivating() -> None:
    sub = active_subscription()
    request = due_request(sub, utc(2024, 2, 29))
    sub.cancel("customer", None, "now", utc(2024, 2, 29), ACTOR)

    sub.record_charge_approved(request.key, "gw-1", utc(2024, 2, 29), ACTOR)

    assert (sub.status, sub.paid_recurrences) == ("cancelled", 2)


def test_cancelling_twice_is_a_conflict() -> None:
    sub = active_subscription()
    sub.cancel("customer", None, "now", utc(2024, 2, 10), ACTOR)

    with pytest.raises(InvalidStateError):
        sub.cancel("admin", None, "now", utc(2024, 2, 11), ACTOR)
    assert sub.cancellation == {"origin": "customer", "reason": None}


def test_scheduling_a_second_cancellation_is_a_conflict() -> None:
    sub = active_subscription()
    sub.cancel("customer", None, "period_end", utc(2024, 2, 10), ACTOR)

    with pytest.raises(InvalidStateError):
        sub.cancel("seller", None, "period_end", utc(2024, 2, 11), ACTOR)


def test_a_scheduled_cancellation_can_be_brought_forward_to_now() -> None:
    sub = active_subscription()
    sub.cancel("customer", None, "period_end", utc(2024, 2, 10), ACTOR)

    sub.cancel("admin", "fraud", "now", utc(2024, 2, 11), ACTOR)

    assert (sub.status, sub.cancel_at, sub.cancelled_at) == ("cancelled", None, utc(2024, 2, 11))


@pytest.mark.parametrize(("origin", "when"), [("robot", "now"), ("customer", "tomorrow")])
def test_a_cancellation_needs_a_known_origin_and_moment(origin: str, when: str) -> None:
    sub = active_subscription()
    with pytest.raises(RuleViolationError):
        sub.cancel(origin, None, when, utc(2024, 2, 10), ACTOR)
    assert sub.status == "active"
