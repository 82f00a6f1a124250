"""Report schedules as the API answers them: the aggregate (create, read) and read-model rows (list) alike."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.domain.reporting import FORMATS, FREQUENCIES, REPORTS
from recur.http.representations.kit import instant, page_of, representation, text, uuid, version


@representation
class ReportScheduleView(Schema):
    id = uuid()
    producer_id = uuid()
    report = text(validate=validate.OneOf(REPORTS))
    frequency = text("daily, weekly (Monday to Sunday) or monthly (calendar months)", validate=validate.OneOf(FREQUENCIES))
    format = text("the attached file's format", validate=validate.OneOf(FORMATS))
    recipients = fields.List(fields.Email(), metadata={"description": "each address once (compared case-insensitively)"})
    time_zone = text("IANA time zone the periods are counted in")
    created_at = instant("the clock's time when it was created: the first report is of the period this instant falls in")
    next_report_at = instant("when the next report is due: the end of the oldest period not yet reported")
    version = version()


ReportSchedulePageView = page_of(ReportScheduleView, "ReportSchedulePageView")
