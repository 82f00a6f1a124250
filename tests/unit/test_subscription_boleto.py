"""Boleto: issued for the charge, the subscription activates when it is paid and stops if it expires."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_builders import (
    ACTOR,
    BOLETO,
    JAN_31,
    names,
    start_subscription,
    utc,
)

from recur.domain.errors import InvalidStateError
from recur.domain.subscription import ChargeRequest, Subscription


def test_a_paid_boleto_activates_the_subscription() -> None:
    sub = start_subscription(payment_method=BOLETO)
    request = charge_boleto(sub, "boleto-1")

    assert sub.status == "pending"
    assert sub.boleto is not None and sub.boleto.due_date == "2024-02-03"
    assert sub.next_charge_at is None and sub.next_due_at == JAN_31 + timedelta(days=3)
    assert sub.begin_charge(JAN_31 + timedelta(days=1), ACTOR) is None

    sub.record_boleto_paid("boleto-1", JAN_31 + timedelta(days=1), ACTOR)

    assert sub.status == "active" and sub.boleto is None
    assert (sub.paid_recurrences, sub.total_paid) == (1, request.amount.amount)
    assert sub.next_charge_at == utc(2024, 2, 29)
    assert names(list(sub.collect_events())).count("BoletoPaid") == 1


def test_an_unpaid_boleto_expires_after_three_days_and_billing_stops() -> None:
    sub = start_subscription(payment_method=BOLETO)
    charge_boleto(sub, "boleto-1")

    assert not sub.expire_boleto(JAN_31 + timedelta(days=3) - timedelta(seconds=1), ACTOR)
    assert sub.settle_due_housekeeping(JAN_31 + timedelta(days=3), ACTOR)

    assert (sub.status, sub.boleto, sub.next_charge_at, sub.next_due_at) == ("inactive", None, None, None)
    assert "BoletoExpired" in names(list(sub.collect_events()))


def test_a_boleto_paid_after_it_expired_is_still_recorded_and_billing_restarts_from_that_day() -> None:
    sub = start_subscription(payment_method=BOLETO)
    charge_boleto(sub, "boleto-1")
    sub.settle_due_housekeeping(JAN_31 + timedelta(days=3), ACTOR)

    paid_on = JAN_31 + timedelta(days=4)
    sub.record_boleto_paid("boleto-1", paid_on, ACTOR)

    assert (sub.status, sub.paid_recurrences) == ("active", 1)
    assert sub.current_period_start == paid_on
    assert sub.next_charge_at == paid_on + timedelta(days=29)  # Feb 4 -> Mar 4 (2024 is a leap year)


def test_a_boleto_is_paid_only_once() -> None:
    sub = start_subscription(payment_method=BOLETO)
    charge_boleto(sub, "boleto-1")
    sub.record_boleto_paid("boleto-1", JAN_31, ACTOR)

    with pytest.raises(InvalidStateError):
        sub.record_boleto_paid("boleto-1", JAN_31, ACTOR)
    assert sub.paid_recurrences == 1


def charge_boleto(sub: Subscription, boleto_id: str) -> ChargeRequest:
    request = sub.begin_charge(sub.next_charge_at or JAN_31, ACTOR)
    assert request is not None and request.method == "boleto"
    sub.record_boleto_issued(request.key, boleto_id, "23790.00000 00000.000000", sub.next_due_at or JAN_31, ACTOR)
    return request
