"""A subscription's life: trial, first charge, the billing calendar, installments, replay."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from domain_builders import (
    ACTOR,
    JAN_31,
    NEW_CARD,
    charge_approved,
    charge_refused,
    names,
    of_type,
    pay_next_charge,
    plan_terms,
    replay,
    start_subscription,
    utc,
)
from eventsourcing.application import Application

from recur.domain.errors import RuleViolationError
from recur.domain.subscription import Subscription


def test_a_subscription_without_trial_is_pending_until_its_first_charge_is_paid() -> None:
    sub = start_subscription(at=JAN_31)

    assert sub.status == "pending"
    assert sub.next_charge_at == sub.next_due_at == JAN_31
    assert sub.current_period_start is None and sub.current_period_end is None

    request = charge_approved(sub, JAN_31)

    assert (request.cycle, request.installment, request.amount.amount) == (1, 1, 1000)
    assert sub.status == "active"
    assert (sub.paid_recurrences, sub.total_paid) == (1, 1000)
    assert (sub.current_period_start, sub.current_period_end) == (JAN_31, utc(2024, 2, 29))
    assert sub.next_charge_at == sub.next_due_at == utc(2024, 2, 29)
    recorded = [name for name in names(list(sub.collect_events())) if name != "Rescheduled"]
    assert recorded == ["SubscriptionStarted", "ChargeAttempted", "ChargeSucceeded"]


def test_a_trial_converts_to_active_when_the_charge_at_its_end_is_paid() -> None:
    sub = start_subscription(trial_days=7, at=JAN_31)
    trial_end = JAN_31 + timedelta(days=7)

    assert sub.status == "trialing"
    assert sub.trial_ends_at == sub.next_charge_at == trial_end
    assert sub.next_due_at == trial_end - timedelta(days=3)  # the trial-ending notice comes first
    assert (sub.current_period_start, sub.current_period_end) == (JAN_31, trial_end)
    assert sub.begin_charge(trial_end - timedelta(seconds=1), ACTOR) is None

    charge_approved(sub, trial_end)

    assert sub.status == "active"
    assert sub.current_period_start == trial_end
    assert sub.next_charge_at == utc(2024, 3, 7)
    assert names(list(sub.collect_events()))[:2] == ["SubscriptionStarted", "TrialStarted"]


def test_a_trial_cancelled_now_is_never_charged() -> None:
    sub = start_subscription(trial_days=7)

    sub.cancel("customer", "changed my mind", "now", JAN_31 + timedelta(days=2), ACTOR)

    assert sub.status == "cancelled"
    assert sub.begin_charge(JAN_31 + timedelta(days=7), ACTOR) is None
    assert sub.next_due_at is None
    assert of_type(list(sub.collect_events()), "ChargeAttempted") == []


def test_a_trial_cancelled_at_its_end_is_never_charged() -> None:
    sub = start_subscription(trial_days=7)
    trial_end = JAN_31 + timedelta(days=7)

    sub.cancel("customer", None, "period_end", JAN_31 + timedelta(days=2), ACTOR)

    assert sub.status == "trialing"
    assert sub.next_charge_at is None
    assert sub.next_due_at == trial_end
    assert sub.begin_charge(trial_end, ACTOR) is None
    assert sub.settle_due_housekeeping(trial_end, ACTOR)
    assert (sub.status, sub.cancelled_at) == ("cancelled", trial_end)
    assert of_type(list(sub.collect_events()), "ChargeAttempted") == []


def test_a_declined_first_charge_leaves_the_subscription_pending_and_never_active() -> None:
    sub = start_subscription(terms=plan_terms(max_retries=2, window_days=4))

    charge_refused(sub, JAN_31)
    assert sub.status == "pending"
    while sub.status == "pending":
        charge_refused(sub, sub.next_charge_at or JAN_31)

    events = list(sub.collect_events())
    assert sub.status == "inactive"
    assert (sub.paid_recurrences, sub.total_paid) == (0, 0)
    assert [e.status for e in of_type(events, "ChargeFailed")] == ["pending", "pending", "pending"]
    assert names(events)[-2:] == ["RetriesExhausted", "Rescheduled"]


def test_a_year_of_monthly_billing_follows_the_calendar_from_a_month_end_anchor() -> None:
    sub = start_subscription(at=JAN_31)
    charge_approved(sub, JAN_31)
    charged_on = []
    for _ in range(12):
        charged_on.append(sub.next_charge_at)
        pay_next_charge(sub)

    assert [d.date().isoformat() for d in charged_on if d] == [
        "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31",
        "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31", "2025-01-31",
    ]  # fmt: skip
    assert (sub.paid_recurrences, sub.total_paid) == (13, 13000)
    assert sub.next_charge_at == utc(2025, 2, 28)


def test_an_annual_plan_in_twelve_installments_is_charged_monthly_and_renews_after_a_year() -> None:
    sub = start_subscription(terms=plan_terms(price=120000, periodicity="annual", installments=12), at=utc(2024, 1, 10))

    requests = [pay_next_charge(sub) for _ in range(12)]

    assert [r.amount.amount for r in requests] == [10000] * 12
    assert [(r.cycle, r.installment) for r in requests] == [(1, n) for n in range(1, 13)]
    assert (sub.current_period_start, sub.current_period_end) == (utc(2024, 1, 10), utc(2025, 1, 10))
    assert sub.next_charge_at == utc(2025, 1, 10)
    renewal = pay_next_charge(sub)
    assert (renewal.cycle, renewal.installment, renewal.amount.amount) == (2, 1, 10000)
    assert sub.current_period_end == utc(2026, 1, 10)


def test_an_annual_plan_in_five_installments_puts_the_remainder_on_the_first() -> None:
    sub = start_subscription(terms=plan_terms(price=100003, periodicity="annual", installments=5), at=utc(2024, 1, 10))
    due_dates = []
    requests = []
    for _ in range(5):
        due_dates.append(sub.next_charge_at)
        requests.append(pay_next_charge(sub))

    assert [r.amount.amount for r in requests] == [20003, 20000, 20000, 20000, 20000]
    assert due_dates == [utc(2024, m, 10) for m in range(1, 6)]
    assert sub.total_paid == 100003
    assert sub.next_charge_at == utc(2025, 1, 10)
    assert sub.begin_charge(utc(2024, 6, 10), ACTOR) is None
    succeeded = of_type(list(sub.collect_events()), "ChargeSucceeded")
    assert [(e.installment, e.installments) for e in succeeded] == [(n, 5) for n in range(1, 6)]


def test_a_subscription_cannot_have_more_installments_than_months_in_its_period() -> None:
    with pytest.raises(RuleViolationError) as refused:
        start_subscription(terms=plan_terms(periodicity="quarterly", installments=4))
    assert refused.value.field == "installments"


def eventful_history() -> Subscription:
    sub = start_subscription(trial_days=7, terms=plan_terms(reset_billing_date=True))
    trial_end = JAN_31 + timedelta(days=7)
    charge_refused(sub, trial_end, "stolen_card")
    sub.change_payment_method(NEW_CARD, trial_end + timedelta(days=1), ACTOR)
    charge_approved(sub, trial_end + timedelta(days=1))
    sub.change_plan(plan_terms(price=2700, periodicity="quarterly", plan_id="plan-q"), "product-1", utc(2024, 2, 20), ACTOR)
    pay_next_charge(sub)
    sub.change_billing_day(5, utc(2024, 3, 20), ACTOR)
    sub.cancel("seller", "fraud suspicion", "period_end", utc(2024, 3, 21), ACTOR)
    return sub


def test_a_subscription_rebuilt_from_its_events_equals_the_original() -> None:
    sub = eventful_history()

    rebuilt = replay(list(sub.collect_events()))

    assert rebuilt == sub
    assert (rebuilt.status, rebuilt.periodicity, rebuilt.cancel_at) == ("active", "quarterly", sub.cancel_at)


def test_a_subscription_survives_storage_and_retrieval_of_its_events() -> None:
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    sub = eventful_history()

    app.save(sub)

    assert app.repository.get(sub.id) == sub
