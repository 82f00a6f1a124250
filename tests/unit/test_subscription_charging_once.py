"""Each installment is charged and approved at most once, whatever crashes or repeated results happen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_builders import (
    ACTOR,
    JAN_31,
    FakeGateway,
    charge_approved,
    charge_refused,
    due_request,
    of_type,
    start_subscription,
)

from recur.domain.errors import InvalidStateError


def test_an_installment_is_approved_at_most_once_even_if_its_result_is_recorded_twice() -> None:
    sub = start_subscription()
    request = charge_approved(sub, JAN_31)

    with pytest.raises(InvalidStateError):
        sub.record_charge_approved(request.key, "gw-second", JAN_31, ACTOR)
    with pytest.raises(InvalidStateError):
        sub.record_charge_refused(request.key, "insufficient_funds", JAN_31, ACTOR)

    assert (sub.paid_recurrences, sub.total_paid) == (1, 1000)
    assert len(of_type(list(sub.collect_events()), "ChargeSucceeded")) == 1


def test_a_refusal_is_recorded_only_once() -> None:
    sub = start_subscription()
    request = charge_refused(sub, JAN_31)

    with pytest.raises(InvalidStateError):
        sub.record_charge_refused(request.key, "insufficient_funds", JAN_31, ACTOR)
    assert len(of_type(list(sub.collect_events()), "ChargeFailed")) == 1


def test_no_second_attempt_starts_while_one_awaits_its_result() -> None:
    sub = start_subscription()
    request = due_request(sub, JAN_31)

    assert sub.begin_charge(JAN_31 + timedelta(minutes=5), ACTOR) is None
    assert sub.pending_charge() == request
    assert sub.next_due_at == JAN_31


def test_a_charge_interrupted_by_a_crash_is_resolved_with_its_original_key() -> None:
    gateway = FakeGateway()
    sub = start_subscription()
    first = due_request(sub, JAN_31)
    gateway.charge(first, "approved")  # the process dies before recording the result

    pending = sub.pending_charge()
    assert pending is not None and pending.key == first.key
    assert gateway.charge(pending, "insufficient_funds") == "approved"  # same key, same result
    sub.record_charge_approved(pending.key, "gw-1", JAN_31 + timedelta(minutes=1), ACTOR)

    assert sub.status == "active"
    assert gateway.approved() == [1000]


def test_a_result_for_an_older_attempt_is_refused() -> None:
    sub = start_subscription()
    stale = charge_refused(sub, JAN_31)
    assert sub.next_charge_at is not None
    current = due_request(sub, sub.next_charge_at)

    assert stale.key != current.key
    with pytest.raises(InvalidStateError):
        sub.record_charge_approved(stale.key, "gw-late", sub.next_charge_at, ACTOR)
