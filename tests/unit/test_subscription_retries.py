"""Refused charges: retries inside the window, hard declines, reprocessing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from domain_builders import (
    ACTOR,
    JAN_31,
    NEW_CARD,
    active_subscription,
    charge_approved,
    charge_refused,
    names,
    of_type,
    plan_terms,
    start_subscription,
    utc,
)

from recur.domain.errors import InvalidStateError
from recur.domain.subscription import Subscription

RENEWAL = utc(2024, 2, 29)  # the first renewal of a monthly subscription started on Jan 31
WINDOW_END = RENEWAL + timedelta(days=15)


def past_due_on_renewal(
    reason: str = "insufficient_funds", *, max_retries: int = 5, window_days: int = 15, reset_billing_date: bool = False
) -> Subscription:
    terms = plan_terms(max_retries=max_retries, window_days=window_days, reset_billing_date=reset_billing_date)
    sub = active_subscription(terms=terms)
    charge_refused(sub, RENEWAL, reason)
    return sub


def test_a_refused_renewal_is_retried_five_times_within_the_window() -> None:
    sub = past_due_on_renewal()
    assert sub.status == "past_due"
    tried_at = []

    while sub.status == "past_due":
        retry_at = sub.next_charge_at
        assert retry_at is not None and sub.next_due_at == retry_at
        assert sub.begin_charge(retry_at - timedelta(minutes=1), ACTOR) is None
        charge_refused(sub, retry_at)
        tried_at.append(retry_at)

    events = list(sub.collect_events())
    assert tried_at == [RENEWAL + timedelta(days=d) for d in (3, 6, 9, 12, 15)]
    assert [(e.attempt, e.max_retries) for e in of_type(events, "RetryScheduled")] == [(n, 5) for n in range(1, 6)]
    assert all(RENEWAL < e.next_retry_at <= e.window_ends_at == WINDOW_END for e in of_type(events, "RetryScheduled"))
    assert len(of_type(events, "ChargeFailed")) == 6
    assert names(events)[-2:] == ["RetriesExhausted", "Rescheduled"]
    assert (sub.status, sub.retry, sub.next_charge_at, sub.next_due_at) == ("inactive", None, None, None)
    assert sub.begin_charge(RENEWAL + timedelta(days=40), ACTOR) is None


@pytest.mark.parametrize(("max_retries", "window_days", "days"), [(3, 7, [7 / 3, 14 / 3, 7]), (1, 10, [10]), (2, 60, [30, 60])])
def test_retries_are_spread_evenly_up_to_the_last_day_of_the_window(max_retries: int, window_days: int, days: list[float]) -> None:
    sub = past_due_on_renewal(max_retries=max_retries, window_days=window_days)
    tried_at = []
    while sub.status == "past_due" and sub.next_charge_at is not None:
        tried_at.append(sub.next_charge_at)
        charge_refused(sub, sub.next_charge_at)

    assert tried_at == [RENEWAL + timedelta(days=d) for d in days]
    assert sub.status == "inactive"


def test_a_plan_without_retries_stops_billing_at_the_first_refusal() -> None:
    sub = past_due_on_renewal(max_retries=0)

    assert sub.status == "inactive"
    assert "RetryScheduled" not in names(list(sub.collect_events()))


def test_a_retry_that_is_approved_makes_the_subscription_active_again() -> None:
    sub = past_due_on_renewal()

    charge_approved(sub, RENEWAL + timedelta(days=3))

    assert (sub.status, sub.retry) == ("active", None)
    assert (sub.paid_recurrences, sub.total_paid) == (2, 2000)
    assert sub.next_charge_at == utc(2024, 3, 31)


def test_a_retry_approved_with_reset_billing_date_moves_the_anchor_to_that_day() -> None:
    sub = past_due_on_renewal(reset_billing_date=True)
    paid_on = RENEWAL + timedelta(days=3)

    charge_approved(sub, paid_on)

    assert (sub.current_period_start, sub.current_period_end) == (utc(2024, 3, 3), utc(2024, 4, 3))
    assert sub.next_charge_at == utc(2024, 4, 3)
    charge_approved(sub, utc(2024, 4, 3))
    assert sub.next_charge_at == utc(2024, 5, 3)


def test_a_retry_approved_without_reset_billing_date_keeps_the_anchor() -> None:
    sub = past_due_on_renewal(reset_billing_date=False)

    charge_approved(sub, RENEWAL + timedelta(days=3))

    assert (sub.current_period_start, sub.current_period_end) == (RENEWAL, utc(2024, 3, 31))


def test_a_hard_decline_pauses_retries_until_a_new_card_arrives() -> None:
    sub = past_due_on_renewal("stolen_card")

    assert sub.status == "past_due"
    assert sub.retry is not None and sub.retry.next_retry_at is None
    assert sub.next_charge_at is None
    assert sub.next_due_at == WINDOW_END
    assert sub.begin_charge(RENEWAL + timedelta(days=3), ACTOR) is None

    new_card_at = RENEWAL + timedelta(days=4)
    sub.change_payment_method(NEW_CARD, new_card_at, ACTOR)

    assert sub.next_charge_at == sub.next_due_at == new_card_at
    request = charge_approved(sub, new_card_at)
    assert request.token == NEW_CARD["token"]
    assert sub.status == "active"
    events = list(sub.collect_events())
    assert [e.waiting_for_new_payment_method for e in of_type(events, "RetryScheduled")] == [True, False]


def test_a_hard_declined_subscription_without_a_new_card_stops_when_the_window_closes() -> None:
    sub = past_due_on_renewal("expired_card")

    assert not sub.settle_due_housekeeping(WINDOW_END - timedelta(seconds=1), ACTOR)
    assert sub.settle_due_housekeeping(WINDOW_END, ACTOR)

    assert (sub.status, sub.retry, sub.next_due_at) == ("inactive", None, None)
    assert "RetriesExhausted" in names(list(sub.collect_events()))


def test_a_new_card_and_a_reprocess_reactivate_an_inactive_subscription() -> None:
    sub = past_due_on_renewal(max_retries=0)
    assert sub.status == "inactive"
    assert sub.begin_charge(RENEWAL + timedelta(days=1), ACTOR) is None

    sub.change_payment_method(NEW_CARD, RENEWAL + timedelta(days=20), ACTOR)
    assert sub.begin_charge(RENEWAL + timedelta(days=20), ACTOR) is None
    request = charge_approved(sub, RENEWAL + timedelta(days=20), reprocess=True)

    assert (request.cycle, request.installment, request.token) == (2, 1, NEW_CARD["token"])
    assert sub.status == "active"
    assert (sub.paid_recurrences, sub.total_paid) == (2, 2000)


def test_a_refused_reprocess_leaves_an_inactive_subscription_inactive_without_retries() -> None:
    sub = past_due_on_renewal(max_retries=0)

    charge_refused(sub, RENEWAL + timedelta(days=1), reprocess=True)

    assert (sub.status, sub.retry, sub.next_due_at) == ("inactive", None, None)


def test_a_past_due_subscription_can_be_reprocessed_before_its_next_retry() -> None:
    sub = past_due_on_renewal()

    charge_approved(sub, RENEWAL + timedelta(hours=2), reprocess=True)

    assert (sub.status, sub.retry) == ("active", None)


def test_a_refused_reprocess_keeps_the_scheduled_retries() -> None:
    sub = past_due_on_renewal()

    charge_refused(sub, RENEWAL + timedelta(hours=2), reprocess=True)

    assert sub.status == "past_due"
    assert sub.next_charge_at == RENEWAL + timedelta(days=3)


def trialing_subscription() -> Subscription:
    return start_subscription(trial_days=7)


def pending_subscription() -> Subscription:
    return start_subscription()


@pytest.mark.parametrize("make", [active_subscription, trialing_subscription, pending_subscription])
def test_only_a_subscription_behind_on_payment_can_be_reprocessed(make: Callable[[], Subscription]) -> None:
    sub = make()
    assert sub.status in ("active", "trialing", "pending")

    with pytest.raises(InvalidStateError):
        sub.begin_charge(JAN_31 + timedelta(days=1), ACTOR, reprocess=True)


def test_a_first_charge_refused_can_be_reprocessed_while_pending() -> None:
    sub = start_subscription()
    charge_refused(sub, JAN_31)

    charge_approved(sub, JAN_31 + timedelta(hours=1), reprocess=True)

    assert sub.status == "active"


def test_a_new_card_after_the_retry_window_closed_brings_no_retry_outside_the_window() -> None:
    sub = past_due_on_renewal("stolen_card")
    late = WINDOW_END + timedelta(days=5)

    sub.change_payment_method(NEW_CARD, late, ACTOR)

    assert sub.begin_charge(late, ACTOR) is None
    scheduled = of_type(list(sub.collect_events()), "RetryScheduled")
    assert all(e.next_retry_at is None or e.next_retry_at <= WINDOW_END for e in scheduled)


def test_a_hard_decline_on_reprocess_pauses_the_scheduled_retries() -> None:
    sub = past_due_on_renewal("insufficient_funds")
    next_retry: datetime | None = sub.next_charge_at
    assert next_retry == RENEWAL + timedelta(days=3)

    charge_refused(sub, RENEWAL + timedelta(days=1), "stolen_card", reprocess=True)

    assert sub.retry is not None and sub.retry.next_retry_at is None
    assert sub.begin_charge(next_retry, ACTOR) is None
