"""Billing dates by calendar-month arithmetic, always counted from an anchor.

Counting from the anchor (not from the previous date) is what keeps Jan 31 -> Feb 28 -> Mar 31:
stepping month by month from Feb 28 would drift to the 28th forever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

PERIOD_MONTHS: dict[str, int] = {
    "monthly": 1,
    "bimonthly": 2,
    "quarterly": 3,
    "semiannual": 6,
    "annual": 12,
}


def add_months(anchor: datetime, months: int) -> datetime:
    """The anchor moved `months` calendar months, clamped at month end (relativedelta clamps)."""
    return anchor + relativedelta(months=months)


def add_days(moment: datetime, days: float) -> datetime:
    return moment + timedelta(days=days)


def on_day(moment: datetime, day: int) -> datetime:
    """The same month and time of day as `moment`, on day `day` (1..28 always exists)."""
    return moment.replace(day=day)


def next_occurrence_of_day(after: datetime, not_before: datetime, day: int) -> datetime:
    """The first date on `day` of the month in or after `after`'s month that is not before `not_before`."""
    candidate = on_day(after, day)
    while candidate < not_before:
        candidate = add_months(candidate, 1)
    return candidate


def utc(moment: datetime) -> datetime:
    """Normalise to an aware UTC datetime; naive input is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
