"""Scheduled reports: when a period ends, the report of that period is e-mailed to each recipient of the schedule.

Due work on the billing clock, run by the scheduler (recur.scheduler) beside the charges: it reads read models
and the event store, builds the file with the report endpoints' own function and decides the e-mails, so it sits
above http and projections, as the scheduler does.

**Each period exactly once.** `report_schedule_progress` holds, per schedule, the end of the oldest period not yet
reported (created on first sight from the period the schedule was created in). A period is reported in one
transaction that locks that row (FOR UPDATE SKIP LOCKED: a second scheduler skips it rather than waits), writes one
outbox row per recipient (unique `dedup_key`, so even a lost progress row sends nothing twice) and moves the row to
the next period. A clock that jumped several periods reports each missed one, oldest first, each in its own
transaction; a clock advance (sandbox) steps to each period end in time order, with the charges.

**The read models must have caught up to the period's end** before its report is built. The sandbox's clock advance
waits for them before each step, and at a step reports are built before anything is billed at that instant (what is
billed then belongs to the next period). With the system clock the scheduler runs about every second and reports a
period at its first pass after the end; events are projected well within that as a rule, but an event still in
flight then (a lagging consumer) is missing from the e-mailed file, while the report endpoint shows it later.

**Deleted** schedules send nothing more: the schedule is loaded from the event store under the lock, so a deletion
wins even when the read model has not seen it yet. E-mails are in English (producers have no language setting yet)
and come from "recur", the platform, not from the producer.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import psycopg2

from recur.commands import scheduler_failures
from recur.commands.event_store import NotFoundError
from recur.commands.services import Services
from recur.domain.catalog import Producer
from recur.domain.reporting import ReportPeriod, ReportSchedule, first_period_end, next_period_end, period_ending_at
from recur.http.reports import report_file
from recur.notifications.messages import Attachment, compose
from recur.notifications.outbox import OutgoingMail, enqueue

log = logging.getLogger(__name__)
KIND = "report"
LOCALE = "en"  # producers have no language setting yet
SENDER_NAME = "recur"  # the platform tells the producer; the producer's name is for mail to its subscribers


@dataclass
class ReportsRun:
    reported: int = 0  # periods reported, each to all of its schedule's recipients
    skipped_locked: int = 0  # another scheduler is reporting it
    errors: int = 0  # set aside for a backoff (scheduler_failures)


@dataclass(frozen=True)
class DueSchedule:
    schedule_id: str
    period_end: datetime  # the end of its oldest period not yet reported
    first_seen: bool  # no progress row yet: `period_end` is the end of the period it was created in
    failed_before: bool


class Skipped(Enum):
    LOCKED = "another scheduler holds it"
    NOT_DUE = "its next period has not ended"
    GONE = "deleted"


def due_schedules(services: Services, until: datetime) -> list[DueSchedule]:
    """Schedules with a period ended at or before `until`, oldest period end first (deleted and backing-off ones left out)."""
    rows = services.db.fetchall(
        "SELECT s.id::text, s.created_at, s.frequency, s.time_zone, p.next_period_end, "
        "EXISTS (SELECT 1 FROM scheduler_failures f WHERE f.subscription_id = s.id) "
        "FROM rm_report_schedules s LEFT JOIN report_schedule_progress p ON p.schedule_id = s.id "
        "WHERE s.deleted_at IS NULL AND (p.next_period_end IS NULL OR p.next_period_end <= %s) AND "
        f"{scheduler_failures.not_backing_off('s.id')}",
        (until,),
    )
    due = [
        DueSchedule(schedule_id, progress or first_period_end(created_at, frequency, time_zone), progress is None, failed_before)
        for schedule_id, created_at, frequency, time_zone, progress, failed_before in rows
    ]
    return sorted((d for d in due if d.period_end <= until), key=lambda schedule: (schedule.period_end, schedule.schedule_id))


def next_report_due(services: Services, until: datetime) -> datetime | None:
    """The earliest period end at or before `until` that is still to be reported."""
    due = due_schedules(services, until)
    return due[0].period_end if due else None


def run_due_reports(services: Services, now: datetime) -> ReportsRun:
    """Report every period ended at or before `now`, in order of period end across schedules."""
    run = ReportsRun()
    queue: list[tuple[datetime, str, bool]] = []
    for due in due_schedules(services, now):
        if due.first_seen:
            services.db.execute(
                "INSERT INTO report_schedule_progress (schedule_id, next_period_end) VALUES (%s, %s) ON CONFLICT (schedule_id) DO NOTHING",
                (due.schedule_id, due.period_end),
            )
        heapq.heappush(queue, (due.period_end, due.schedule_id, due.failed_before))
    while queue:
        _, schedule_id, failed_before = heapq.heappop(queue)
        try:
            outcome = report_next_period(services, schedule_id, now)
        except Exception as error:
            run.errors += 1
            log.exception("reporting a period of schedule %s failed; it is set aside for a backoff, then retried", schedule_id)
            _set_aside(services, schedule_id, error)
            continue
        if outcome is Skipped.LOCKED:
            run.skipped_locked += 1
        if isinstance(outcome, Skipped):
            continue
        run.reported += 1
        if failed_before:
            scheduler_failures.clear(services.db, [schedule_id])
        if outcome <= now:
            heapq.heappush(queue, (outcome, schedule_id, False))
    return run


def report_next_period(services: Services, schedule_id: str, now: datetime) -> datetime | Skipped:
    """Report the schedule's oldest unreported period if it ended by `now`; returns the end of the period after it."""
    with services.db.transaction() as cur:
        cur.execute("SELECT next_period_end FROM report_schedule_progress WHERE schedule_id = %s FOR UPDATE SKIP LOCKED",
                    (schedule_id,))
        row = cur.fetchone()
        if row is None:
            return Skipped.LOCKED
        end: datetime = row[0]
        if end > now:
            return Skipped.NOT_DUE
        try:
            schedule: ReportSchedule = services.events.load(schedule_id, ReportSchedule)
        except NotFoundError:
            return Skipped.GONE
        if schedule.deleted:
            return Skipped.GONE
        period = period_ending_at(end, schedule.frequency, schedule.time_zone)
        for mail in report_mails(services, schedule, period, now):
            enqueue(cur, mail)
        following = next_period_end(end, schedule.frequency, schedule.time_zone)
        cur.execute("UPDATE report_schedule_progress SET next_period_end = %s WHERE schedule_id = %s", (following, schedule_id))
    return following


def attachment_name(report: str, period: ReportPeriod) -> str:
    """`sales-report-2027-03-01--2027-03-31` (the extension is the format's): the local days it covers, both included."""
    return f"{report}-report-{period.first_day.isoformat()}--{period.last_day.isoformat()}"


def report_mails(services: Services, schedule: ReportSchedule, period: ReportPeriod, now: datetime) -> list[OutgoingMail]:
    """One message per recipient, each with the period's file attached; decided at `now`."""
    producer_id = str(schedule.producer_id)
    producer: Producer = services.events.load(producer_id, Producer)
    built = report_file(schedule.report, services.db, producer_id, period.start, period.end, schedule.format,
                        filename=attachment_name(schedule.report, period))
    attachment = Attachment(built.filename, built.media_type, built.content)
    context: dict[str, Any] = {
        "producer_name": producer.name,
        "report": schedule.report,
        "frequency": schedule.frequency,
        "period_start": period.first_day,
        "period_end": period.last_day,
        "time_zone": schedule.time_zone,
        "rows": built.rows,
        "format": schedule.format,
    }
    mails = []
    for recipient in schedule.recipients:
        key = f"{KIND}:{schedule.id}:{period.first_day.isoformat()}:{recipient.lower()}"
        rendered = compose(KIND, LOCALE, None, recipient, context, decided_at=now, message_key=key, attachments=[attachment])
        mails.append(OutgoingMail(dedup_key=key, kind=KIND, recipient=recipient, sender_name=SENDER_NAME, subject=rendered.subject,
                                  message=rendered.message, decided_at=now, producer_id=producer_id))
    return mails


def _set_aside(services: Services, schedule_id: str, error: BaseException) -> None:
    try:
        scheduler_failures.record_failure(services.db, schedule_id, error)
    except psycopg2.Error:
        log.warning("could not record the failure of schedule %s (the database is unavailable?): it stays due", schedule_id,
                    exc_info=True)
