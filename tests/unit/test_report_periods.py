"""Report schedules: what a schedule accepts, and the periods it reports on, counted in local days whatever DST does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from domain_builders import ACTOR

from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.reporting import ReportPeriod, ReportSchedule, first_period_end, next_period_end, period_ending_at

SAO_PAULO = "America/Sao_Paulo"
LISBON = "Europe/Lisbon"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def define(**overrides: Any) -> ReportSchedule:
    terms: dict[str, Any] = {
        "producer_id": "producer-1",
        "report": "sales",
        "frequency": "monthly",
        "recipients": ["finance@example.com"],
        "format": "csv",
        "time_zone": "UTC",
        "created_at": at(2027, 3, 14, 15),
        "actor": ACTOR,
    }
    return ReportSchedule.define(**{**terms, **overrides})


# ---------------------------------------------------------------- the schedule
def test_the_same_mailbox_in_another_case_is_one_recipient_kept_as_first_written() -> None:
    schedule = define(recipients=["Ana@Example.com", "bia@example.com", "ana@example.com", "BIA@EXAMPLE.COM"])

    assert schedule.recipients == ["Ana@Example.com", "bia@example.com"]


@pytest.mark.parametrize("recipients", [[], [f"staff{n}@example.com" for n in range(21)]])
def test_a_schedule_mails_one_to_twenty_people(recipients: list[str]) -> None:
    with pytest.raises(RuleViolationError) as refused:
        define(recipients=recipients)

    assert refused.value.field == "recipients"


def test_twenty_one_addresses_that_are_twenty_mailboxes_are_accepted() -> None:
    addresses = [f"staff{n}@example.com" for n in range(20)]

    assert define(recipients=[*addresses, "STAFF0@example.com"]).recipients == addresses


def test_an_address_that_would_add_a_header_to_the_message_is_refused() -> None:
    with pytest.raises(RuleViolationError, match="e-mail addresses"):
        define(recipients=["ana@example.com\r\nBcc: everyone@example.com"])


@pytest.mark.parametrize(("field", "value"), [("report", "refunds"), ("frequency", "hourly"), ("format", "pdf"),
                                              ("time_zone", "Mars/Olympus_Mons"), ("time_zone", "../../etc/passwd"),
                                              ("time_zone", "america/sao_paulo")])
def test_only_known_reports_frequencies_formats_and_iana_time_zones_are_accepted(field: str, value: str) -> None:
    with pytest.raises(RuleViolationError) as refused:
        define(**{field: value})

    assert refused.value.field == field


def test_a_schedule_remembers_the_clocks_instant_it_was_created_in_utc() -> None:
    schedule = define(created_at=datetime.fromisoformat("2027-03-14T12:00:00-03:00"), time_zone=SAO_PAULO)

    assert schedule.created_at == at(2027, 3, 14, 15)
    assert schedule.first_period_end() == datetime.fromisoformat("2027-04-01T00:00:00-03:00")


def test_a_deleted_schedule_cannot_be_deleted_again() -> None:
    schedule = define()
    schedule.delete(at(2027, 4, 2), ACTOR)

    assert schedule.deleted and schedule.deleted_at == at(2027, 4, 2)
    with pytest.raises(InvalidStateError):
        schedule.delete(at(2027, 4, 3), ACTOR)


# ---------------------------------------------------------------- periods
def test_a_monthly_period_is_the_calendar_month_whatever_its_length() -> None:
    end = first_period_end(at(2028, 2, 10, 12), "monthly", "UTC")

    assert period_ending_at(end, "monthly", "UTC") == ReportPeriod(at(2028, 2, 1), at(2028, 3, 1), date(2028, 2, 1), date(2028, 2, 29))
    assert next_period_end(end, "monthly", "UTC") == at(2028, 4, 1)
    assert next_period_end(at(2027, 12, 1), "monthly", "UTC") == at(2028, 1, 1)


def test_weeks_run_from_monday_to_sunday() -> None:
    sunday_night = at(2027, 3, 7, 23, 59)  # a Sunday
    monday = at(2027, 3, 8)

    assert first_period_end(sunday_night, "weekly", "UTC") == monday
    assert first_period_end(monday, "weekly", "UTC") == at(2027, 3, 15)  # the first instant belongs to its own week
    assert period_ending_at(monday, "weekly", "UTC").first_day == date(2027, 3, 1)  # a Monday
    assert period_ending_at(monday, "weekly", "UTC").last_day == date(2027, 3, 7)


def test_a_day_ends_at_local_midnight_not_utc_midnight() -> None:
    evening_in_sao_paulo = at(2027, 3, 15, 2)  # 23:00 on the 14th, local

    end = first_period_end(evening_in_sao_paulo, "daily", SAO_PAULO)

    assert end == at(2027, 3, 15, 3)
    assert period_ending_at(end, "daily", SAO_PAULO).last_day == date(2027, 3, 14)


def test_the_day_brazil_skipped_midnight_for_dst_starts_at_one_and_lasts_23_hours() -> None:
    # 2018-11-04: clocks went from 00:00 to 01:00 in Sao Paulo; that day began at 01:00 -02:00 (03:00 UTC).
    day_before_ends = first_period_end(at(2018, 11, 3, 15), "daily", SAO_PAULO)
    dst_day_ends = next_period_end(day_before_ends, "daily", SAO_PAULO)

    assert day_before_ends == at(2018, 11, 4, 3)
    assert dst_day_ends == at(2018, 11, 5, 2)
    assert dst_day_ends - day_before_ends == timedelta(hours=23)
    assert period_ending_at(dst_day_ends, "daily", SAO_PAULO).first_day == date(2018, 11, 4)


def test_the_day_brazil_turned_its_clocks_back_lasts_25_hours() -> None:
    # 2019-02-17 00:00 -02:00 became 2019-02-16 23:00 -03:00: the 16th had 25 hours.
    the_16th = period_ending_at(first_period_end(at(2019, 2, 16, 12), "daily", SAO_PAULO), "daily", SAO_PAULO)

    assert (the_16th.start, the_16th.end) == (at(2019, 2, 16, 2), at(2019, 2, 17, 3))
    assert the_16th.end - the_16th.start == timedelta(hours=25)


def test_a_lisbon_week_and_month_across_the_spring_dst_change_end_at_local_midnight() -> None:
    # Lisbon moved to summer time (+01:00) on Sunday 2024-03-31 at 01:00.
    week = period_ending_at(first_period_end(at(2024, 3, 27, 12), "weekly", LISBON), "weekly", LISBON)
    march = period_ending_at(first_period_end(at(2024, 3, 10, 12), "monthly", LISBON), "monthly", LISBON)

    assert (week.start, week.end) == (at(2024, 3, 25), at(2024, 3, 31, 23))
    assert week.end - week.start == timedelta(days=7, hours=-1)
    assert (march.start, march.end, march.last_day) == (at(2024, 3, 1), at(2024, 3, 31, 23), date(2024, 3, 31))
    assert next_period_end(march.end, "monthly", LISBON) == at(2024, 4, 30, 23)


LOCAL_FIRST_DAY = {  # the first day of the period a last day closes
    "daily": lambda last: last,
    "weekly": lambda last: last - timedelta(days=6),
    "monthly": lambda last: last.replace(day=1),
}


@pytest.mark.parametrize("time_zone", [SAO_PAULO, LISBON])
def test_periods_follow_each_other_without_gap_or_overlap_through_two_years_of_dst_changes(time_zone: str) -> None:
    for frequency in ("daily", "weekly", "monthly"):
        end = first_period_end(at(2018, 1, 1, 12), frequency, time_zone)
        while end < at(2020, 1, 1):
            following = next_period_end(end, frequency, time_zone)
            period = period_ending_at(following, frequency, time_zone)
            assert period.start == end
            assert period.first_day == LOCAL_FIRST_DAY[frequency](period.last_day)
            end = following


def test_an_instant_that_ends_no_period_is_refused() -> None:
    with pytest.raises(ValueError, match="does not end a weekly period"):
        period_ending_at(at(2027, 3, 9), "weekly", "UTC")  # a Tuesday
    with pytest.raises(ValueError, match="does not end a daily period"):
        period_ending_at(at(2027, 3, 9), "daily", SAO_PAULO)  # 21:00 local
