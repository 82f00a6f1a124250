"""Billing dates: calendar months counted from an anchor, clamped at month end."""

from __future__ import annotations

import calendar as std_calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recur.domain.calendar import (
    PERIOD_MONTHS,
    add_days,
    add_months,
    next_occurrence_of_day,
    on_day,
    utc,
)

BRT = timezone(timedelta(hours=-3))


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_each_periodicity_lasts_its_number_of_months() -> None:
    assert PERIOD_MONTHS == {"monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6, "annual": 12}


def test_a_month_end_anchor_is_clamped_to_a_short_month() -> None:
    assert add_months(at(2023, 1, 31), 1) == at(2023, 2, 28)
    assert add_months(at(2024, 1, 31), 1) == at(2024, 2, 29)
    assert add_months(at(2024, 3, 31), 1) == at(2024, 4, 30)


def test_counting_from_the_anchor_returns_to_the_31st_after_a_short_month() -> None:
    anchor = at(2023, 1, 31)
    assert [add_months(anchor, n).date().isoformat() for n in range(4)] == [
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",
        "2023-04-30",
    ]


def test_a_year_of_month_ends_from_a_january_31_anchor() -> None:
    anchor = at(2024, 1, 31)
    days = [add_months(anchor, n).day for n in range(13)]
    assert days == [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]
    assert add_months(anchor, 12) == at(2025, 1, 31)


def test_a_leap_day_anniversary_falls_on_february_28() -> None:
    assert add_months(at(2024, 2, 29), 12) == at(2025, 2, 28)
    assert add_months(at(2024, 2, 29), 48) == at(2028, 2, 29)


def test_moving_back_a_month_is_clamped_too() -> None:
    assert add_months(at(2024, 3, 31), -1) == at(2024, 2, 29)


def test_months_keep_the_time_of_day_and_the_zone() -> None:
    moved = add_months(datetime(2024, 1, 15, 23, 59, 59, tzinfo=UTC), 1)
    assert moved == datetime(2024, 2, 15, 23, 59, 59, tzinfo=UTC)
    assert moved.tzinfo is UTC


@given(
    anchor=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)),
    months=st.integers(min_value=0, max_value=120),
)
def test_a_billing_date_is_the_anchor_day_or_the_last_day_of_a_shorter_month(anchor: datetime, months: int) -> None:
    moved = add_months(anchor, months)

    year, month_from_zero = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    assert (moved.year, moved.month) == (year, month_from_zero + 1)
    last_day = std_calendar.monthrange(moved.year, moved.month)[1]
    assert moved.day == min(anchor.day, last_day)
    assert moved.time() == anchor.time()


def test_days_are_added_as_exact_24_hour_days() -> None:
    assert add_days(at(2024, 2, 28), 2) == at(2024, 3, 1)
    assert add_days(at(2024, 1, 1), 0.5) == at(2024, 1, 1, 21)


def test_a_day_of_the_month_keeps_the_month_and_the_time() -> None:
    assert on_day(at(2024, 2, 29, 15), 10) == at(2024, 2, 10, 15)


def test_the_next_occurrence_of_a_day_is_in_the_same_month_when_not_yet_past() -> None:
    assert next_occurrence_of_day(at(2024, 3, 31), at(2024, 3, 5), 10) == at(2024, 3, 10)


def test_the_next_occurrence_of_a_day_already_past_is_in_the_following_month() -> None:
    assert next_occurrence_of_day(at(2024, 3, 31), at(2024, 3, 12), 10) == at(2024, 4, 10)
    assert next_occurrence_of_day(at(2024, 12, 31), at(2025, 1, 2), 1) == at(2025, 2, 1)


def test_the_next_occurrence_may_fall_on_the_not_before_instant_itself() -> None:
    assert next_occurrence_of_day(at(2024, 3, 1), at(2024, 3, 10), 10) == at(2024, 3, 10)


def test_a_naive_time_is_taken_as_utc() -> None:
    assert utc(datetime(2024, 5, 1, 12)) == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_an_aware_time_is_converted_to_utc() -> None:
    converted = utc(datetime(2024, 5, 1, 21, tzinfo=BRT))
    assert converted == datetime(2024, 5, 2, 0, tzinfo=UTC)
    assert converted.tzinfo == UTC


@pytest.mark.parametrize("day", [1, 15, 28])
def test_every_day_from_1_to_28_exists_in_every_month(day: int) -> None:
    for month in range(1, 13):
        assert on_day(at(2023, month, 1), day).day == day
