"""Scheduled reports: a producer asks for a report of each day, week or month, e-mailed when the period ends.

A schedule counts its periods in its own time zone (producers have none), from the clock's instant it was created:
the first report is the one of the period that instant falls in. Periods are whole local days, ISO weeks
(Monday to Sunday) or calendar months, and are computed on local dates and turned into instants only at the
end, so a day of 23 or 25 hours (a DST change) is still one day and a month is never a multiple of 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from dateutil.relativedelta import relativedelta
from eventsourcing.domain import Aggregate, event

from recur.domain.actor import Actor
from recur.domain.errors import InvalidStateError, RuleViolationError

REPORTS = ("sales", "subscriptions", "installments")
FREQUENCIES = ("daily", "weekly", "monthly")
FORMATS = ("csv", "xlsx")
MAX_RECIPIENTS = 20
DEFAULT_TIME_ZONE = "UTC"


# ---------------------------------------------------------------- the rules of a schedule
@cache
def known_time_zones() -> frozenset[str]:
    """IANA names of the time-zone database (read once): only these are accepted, never a path or an alias of the host."""
    return frozenset(available_timezones())


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise RuleViolationError(f"{field} must be one of {', '.join(allowed)}", field)


def check_time_zone(name: str) -> None:
    if name not in known_time_zones():
        raise RuleViolationError("time_zone must be an IANA time zone name such as America/Sao_Paulo", "time_zone")


def distinct_recipients(addresses: list[str]) -> list[str]:
    """The addresses in their order, each once: mailboxes are compared case-insensitively, as people type them in any
    case and expect one message. 1 to 20 of them, and none that could add a header to the message (CR or LF)."""
    seen: set[str] = set()
    kept: list[str] = []
    for address in addresses:
        if "@" not in address or any(character in address for character in "\r\n"):
            raise RuleViolationError("recipients must be e-mail addresses", "recipients")
        if address.lower() not in seen:
            seen.add(address.lower())
            kept.append(address)
    if not 1 <= len(kept) <= MAX_RECIPIENTS:
        raise RuleViolationError(f"recipients must hold 1 to {MAX_RECIPIENTS} distinct addresses", "recipients")
    return kept


class ReportSchedule(Aggregate):
    """One report e-mailed to a few people after each period. Deleted, it sends nothing more and is gone for its owner."""

    @classmethod
    def define(
        cls,
        *,
        producer_id: str,
        report: str,
        frequency: str,
        recipients: list[str],
        format: str,
        time_zone: str,
        created_at: datetime,
        actor: Actor,
    ) -> ReportSchedule:
        check_choice(report, REPORTS, "report")
        check_choice(frequency, FREQUENCIES, "frequency")
        check_choice(format, FORMATS, "format")
        check_time_zone(time_zone)
        return cls(
            producer_id=producer_id,
            report=report,
            frequency=frequency,
            recipients=distinct_recipients(recipients),
            format=format,
            time_zone=time_zone,
            created_at=created_at.astimezone(UTC),
            actor=actor,
        )

    @event("ReportScheduleCreated")
    def __init__(
        self,
        producer_id: str,
        report: str,
        frequency: str,
        recipients: list[str],
        format: str,
        time_zone: str,
        created_at: datetime,
        actor: Actor,
    ) -> None:
        self.producer_id = producer_id
        self.report = report
        self.frequency = frequency
        self.recipients = recipients
        self.format = format
        self.time_zone = time_zone
        self.created_at = created_at
        self.deleted_at: datetime | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def first_period_end(self) -> datetime:
        return first_period_end(self.created_at, self.frequency, self.time_zone)

    def delete(self, at: datetime, actor: Actor) -> None:
        if self.deleted:
            raise InvalidStateError("the report schedule is already deleted")
        self._deleted(at=at, actor=actor)

    @event("ReportScheduleDeleted")
    def _deleted(self, at: datetime, actor: Actor) -> None:
        self.deleted_at = at


# ---------------------------------------------------------------- periods
@dataclass(frozen=True)
class ReportPeriod:
    """[start, end) as instants, and the local days it covers (`last_day` included), as the e-mail names them."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date


def local_midnight(day: date, time_zone: str) -> datetime:
    """The first instant of a local day, in UTC. Where midnight does not exist (a DST change at 00:00, as Brazil's
    were), fold=0 reads it with the offset before the change: the instant the day really begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def _local_day(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def _first_day_of_period(day: date, frequency: str) -> date:
    if frequency == "daily":
        return day
    if frequency == "weekly":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if frequency == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown frequency {frequency!r}")


def _length(frequency: str) -> relativedelta:
    return {"daily": relativedelta(days=1), "weekly": relativedelta(weeks=1), "monthly": relativedelta(months=1)}[frequency]


def first_period_end(created_at: datetime, frequency: str, time_zone: str) -> datetime:
    """The end of the period `created_at` falls in: the next local midnight, next Monday 00:00 or the first of the next
    month at 00:00, as a UTC instant. An instant at a period's very start belongs to that period."""
    first_day = _first_day_of_period(_local_day(created_at, time_zone), frequency)
    return local_midnight(first_day + _length(frequency), time_zone)


def next_period_end(end: datetime, frequency: str, time_zone: str) -> datetime:
    """The end of the period that follows the one ending at `end`."""
    return first_period_end(end, frequency, time_zone)


def period_ending_at(end: datetime, frequency: str, time_zone: str) -> ReportPeriod:
    """The period that ends at `end`, which must be a period boundary of this frequency in this zone."""
    end_day = _local_day(end, time_zone)
    if _first_day_of_period(end_day, frequency) != end_day or local_midnight(end_day, time_zone) != end:
        raise ValueError(f"{end.isoformat()} does not end a {frequency} period in {time_zone}")
    first_day = end_day - _length(frequency)
    return ReportPeriod(local_midnight(first_day, time_zone), end.astimezone(UTC), first_day, end_day - timedelta(days=1))
