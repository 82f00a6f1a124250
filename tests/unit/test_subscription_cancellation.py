"""Cancellation now or at the end of the paid period, by the customer, the seller or an admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_builders import (
    ACTOR,
    JAN_31,
    active_subscription,
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
from recur.domain.subscription import ORIGINS, Cancellation


@pytest.mark.parametrize("origin", ORIGINS)
def test_a_cancellation_now_stops_billing_at_once(origin: str) -> None:
    sub = active_subscription()

    sub.cancel(origin, "too expensive", "now", utc(2024, 2, 10), ACTOR)

    assert sub.status == "cancelled"
    assert (sub.cancelled_at, sub.cancellation) == (utc(2024, 2, 10), Cancellation(origin, "too expensive"))
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
    assert (sub.status, sub.cancelled_at, sub.cancellation) == ("cancelled", utc(2024, 2, 29), Cancellation(origin, None))
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
    with pytest.raises(InvalidStateError):
        sub.begin_charge(utc(2024, 3, 3), ACTOR, reprocess=True)


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
    assert sub.cancellation == Cancellation("customer", None)


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
