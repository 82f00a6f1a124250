"""The cancellation dashboard puts each cancellation in the day and the month it happened in: an instant at 00:00
belongs to the day (and the month) that begins then, the period's start is inside it and its end is not. Lifetimes are
averaged to the microsecond."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from recur.db import Database
from recur.projections.queries.dashboard import DAYS_PER_MONTH, cancellation_dashboard

START = datetime(2030, 1, 30, 6, tzinfo=UTC)
END = datetime(2030, 2, 2, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def db(read_models_of_its_own: Database) -> Database:
    return read_models_of_its_own


def cancel(db: Database, producer: str, at: datetime, lifetime: timedelta, origin: str, paid: int = 1,
           currency: str = "BRL") -> None:
    """A subscription of `producer` started `lifetime` before `at` and cancelled at `at` by `origin`."""
    number = uuid.uuid4().hex[:8]
    db.execute(
        "INSERT INTO rm_subscriptions (id, code, producer_id, product_id, plan_id, status, price_amount, currency, "
        "periodicity, installments, payment_type, started_at, paid_recurrences, total_paid, cancelled_at, "
        "cancellation_origin, updated_at, version) VALUES (%s, %s, %s, %s, %s, 'cancelled', 5000, %s, 'monthly', 1, "
        "'card', %s, %s, %s, %s, %s, %s, 3)",
        (str(uuid.uuid4()), f"SUB-{number}", producer, str(uuid.uuid4()), str(uuid.uuid4()), currency, at - lifetime, paid,
         paid * 5000, at, origin, at),
    )


def test_cancellations_fall_in_their_day_and_month_with_midnight_in_the_day_it_begins(db: Database) -> None:
    producer = str(uuid.uuid4())
    lifetimes = {
        START - MICROSECOND: timedelta(days=3),  # before the period
        START: timedelta(days=10),
        datetime(2030, 1, 31, 23, 59, 59, 999999, tzinfo=UTC): timedelta(days=20, microseconds=7),
        datetime(2030, 2, 1, tzinfo=UTC): timedelta(days=30, hours=10, minutes=30),
        datetime(2030, 2, 1, 12, tzinfo=UTC): timedelta(hours=36),
        END: timedelta(days=1),  # after the period
    }
    origins = ["customer", "seller", "admin", "seller", "customer", "admin"]
    for (at, lifetime), origin in zip(lifetimes.items(), origins, strict=True):
        cancel(db, producer, at, lifetime, origin, paid=lifetime.days // 10 + 1)

    board = cancellation_dashboard(db, producer, START, END)

    assert board["cancellations"] == 4
    assert [(day["date"], day["cancellations"]) for day in board["daily"]] == [("2030-01-30", 1), ("2030-01-31", 1),
                                                                               ("2030-02-01", 2)]
    assert board["daily"][2]["by_origin"] == {"customer": 1, "seller": 1, "admin": 0}
    assert [(month["month"], month["cancellations"]) for month in board["monthly"]] == [("2030-01", 2), ("2030-02", 2)]
    assert board["monthly"][0]["by_origin"] == {"customer": 0, "seller": 1, "admin": 1}
    inside = list(lifetimes.values())[1:5]
    assert board["lt_months"] == round(sum(lifetime.total_seconds() / 86400 / DAYS_PER_MONTH for lifetime in inside) / 4, 2)
    assert board["avg_paid_recurrences"] == round(sum(lifetime.days // 10 + 1 for lifetime in inside) / 4, 2)
    assert board["ltv"] == {"amount": round(sum((lifetime.days // 10 + 1) * 5000 for lifetime in inside) / 4), "currency": "BRL"}


def test_a_period_with_no_cancellation_has_its_days_and_months_at_zero(db: Database) -> None:
    board = cancellation_dashboard(db, str(uuid.uuid4()), START, END)
    assert (board["cancellations"], board["lt_months"], board["ltv"]) == (0, 0.0, {"amount": 0, "currency": "BRL"})
    assert [day["cancellations"] for day in board["daily"]] == [0, 0, 0]
    assert [month["active_at_start"] for month in board["monthly"]] == [0, 0]


def test_ltv_is_in_the_currency_most_cancelled_subscribers_paid_in_and_a_tie_goes_to_the_first_alphabetically(db: Database) -> None:
    producer = str(uuid.uuid4())
    at = START + timedelta(hours=1)
    for currency, paid in [("USD", 1), ("USD", 3), ("BRL", 2), ("EUR", 4)]:
        cancel(db, producer, at, timedelta(days=40), "customer", paid=paid, currency=currency)
    assert cancellation_dashboard(db, producer, START, END)["ltv"] == {"amount": 10000, "currency": "USD"}, "(1 + 3) x 5000 / 2"

    tied = str(uuid.uuid4())
    for currency in ["USD", "EUR", "BRL"]:
        cancel(db, tied, at, timedelta(days=40), "customer", paid=1, currency=currency)
    assert cancellation_dashboard(db, tied, START, END)["ltv"] == {"amount": 5000, "currency": "BRL"}
