"""Report schedules: a report e-mailed to a few addresses after each day, week or month (producer; admin with
`producer_id`). The scheduler sends them (recur.scheduled_reports)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from marshmallow import Schema, ValidationError, fields, validate

from recur.commands import report_schedules as commands
from recur.domain.reporting import DEFAULT_TIME_ZONE, FORMATS, FREQUENCIES, MAX_RECIPIENTS, REPORTS, ReportSchedule, known_time_zones
from recur.http.context import services
from recur.http.fields import EmailAddress, Text
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_TIME_ZONE_LENGTH
from recur.http.pagination import encode_cursor
from recur.http.query import ReportSchedulesQuery, invalid
from recur.http.representations.report_schedules import ReportSchedulePageView, ReportScheduleView
from recur.http.routes import PRODUCER, Caller, Extended, route
from recur.projections.queries import report_schedules as read_models

bp = Blueprint("report_schedules", __name__)
TAG = "Reports"


def known_time_zone(name: str) -> None:
    if name not in known_time_zones():
        raise ValidationError("must be an IANA time zone name such as America/Sao_Paulo")


class ReportScheduleSchema(Schema):
    report = fields.String(required=True, validate=validate.OneOf(REPORTS))
    frequency = fields.String(required=True, validate=validate.OneOf(FREQUENCIES),
                              metadata={"description": "daily, weekly (Monday to Sunday) or monthly (calendar months)"})
    recipients = fields.List(EmailAddress(max_length=MAX_EMAIL_LENGTH), required=True,
                             validate=validate.Length(1, MAX_RECIPIENTS),
                             metadata={"description": "e-mail addresses; the same address in another case is sent once"})
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    time_zone = Text(max_length=MAX_TIME_ZONE_LENGTH, load_default=DEFAULT_TIME_ZONE, validate=known_time_zone,
                     metadata={"description": "IANA time zone the days, weeks and months are counted in (default UTC)"})
    producer_id = fields.UUID(load_default=None, metadata={"description": "admin credentials only: for which producer"})


def with_next_report(schedule: ReportSchedule) -> Extended:
    """The schedule as answered: with when its next report is due."""
    progress = read_models.next_period_end_of(services().db, str(schedule.id))
    return Extended(schedule, next_report_at=progress or schedule.first_period_end())


@route(bp.post, "/v1/report-schedules", TAG, "Schedule a report e-mailed after each period", roles=PRODUCER, body=ReportScheduleSchema,
       response=ReportScheduleView, status=201, location="/v1/report-schedules/{id}", etag=True,
       description="After each day, week or month (in `time_zone`), the report of the period just ended is e-mailed to every "
       "recipient as a csv or xlsx attachment: the same file `GET /v1/reports/<report>` gives for that period. The first "
       "report is of the period under way. Admin credentials must name the producer with `producer_id`.")
def create_report_schedule(caller: Caller, body: dict[str, Any]) -> Extended:
    producer_id = caller.producer_id or (str(body["producer_id"]) if body.get("producer_id") else None)
    if producer_id is None:
        raise invalid("producer_id", "is required with admin credentials")
    return with_next_report(commands.create_report_schedule(services(), producer_id, body, caller.actor()))


@route(bp.get, "/v1/report-schedules", TAG, "List report schedules", roles=PRODUCER, query=ReportSchedulesQuery,
       response=ReportSchedulePageView, description="Oldest first. The admin sees every producer's, or one producer's with "
       "`producer_id`.")
def list_report_schedules(caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    producer_id = query.get("producer_id")
    if caller.producer_id:
        if producer_id not in (None, caller.producer_id):
            return {"items": [], "next_cursor": None}  # another tenant's: none of them are yours
        producer_id = caller.producer_id
    page = read_models.list_report_schedules(services().db, producer_id, query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.get, "/v1/report-schedules/<schedule_id>", TAG, "Read a report schedule", roles=PRODUCER, response=ReportScheduleView,
       etag=True)
def get_report_schedule(schedule_id: str, caller: Caller) -> Extended:
    return with_next_report(commands.visible_report_schedule(services(), schedule_id, caller.scope))


@route(bp.delete, "/v1/report-schedules/<schedule_id>", TAG, "Delete a report schedule", roles=PRODUCER, status=204, media=(),
       description="Nothing more is sent for it, not even the period under way; it is gone (404) afterwards.")
def delete_report_schedule(schedule_id: str, caller: Caller) -> Response:
    commands.delete_report_schedule(services(), schedule_id, caller.scope, caller.actor())
    return Response(status=204)
