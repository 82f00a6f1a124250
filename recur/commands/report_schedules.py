"""Report schedules: a producer (or the admin for one) sets one up or deletes it; the scheduler sends the reports."""

from __future__ import annotations

from typing import Any

from recur.commands.catalog import owned
from recur.commands.event_store import NotFoundError
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.catalog import Producer
from recur.domain.reporting import DEFAULT_TIME_ZONE, ReportSchedule


def create_report_schedule(services: Services, producer_id: str, fields: dict[str, Any], actor: Actor) -> ReportSchedule:
    """Periods count from the clock's now (the sandbox clock in the sandbox), not from when the event is stored."""
    services.events.load(producer_id, Producer)
    schedule = ReportSchedule.define(
        producer_id=producer_id,
        report=fields["report"],
        frequency=fields["frequency"],
        recipients=list(fields["recipients"]),
        format=fields["format"],
        time_zone=fields.get("time_zone") or DEFAULT_TIME_ZONE,
        created_at=services.clock.now(),
        actor=actor,
    )
    services.events.store(schedule)
    return schedule


def visible_report_schedule(services: Services, schedule_id: str, caller_producer_id: str | None) -> ReportSchedule:
    """A schedule the caller may see: another producer's, and a deleted one, are unknown."""
    schedule: ReportSchedule = owned(services, schedule_id, ReportSchedule, caller_producer_id)
    if schedule.deleted:
        raise NotFoundError(schedule_id)
    return schedule


def delete_report_schedule(services: Services, schedule_id: str, caller_producer_id: str | None, actor: Actor) -> ReportSchedule:
    schedule = visible_report_schedule(services, schedule_id, caller_producer_id)
    schedule.delete(services.clock.now(), actor)
    services.events.store(schedule)
    return schedule
