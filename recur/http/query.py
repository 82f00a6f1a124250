"""Query strings, declared as marshmallow schemas: a route loads its query through one (a bad value is a 422 naming
the parameter, never a database error) and the OpenAPI document lists the same schema's fields as its parameters.

A parameter left out is absent from the loaded dict (views use `.get`); an empty one (`?status=`) loads as None, as a
browser's form sends it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from marshmallow import Schema, ValidationError, fields, validate

from recur.commands.audit_checkpoints import Checkpoint, InvalidCheckpointError
from recur.http.errors import ApiError
from recur.http.fields import Text
from recur.http.limits import EARLIEST_INSTANT, LATEST_INSTANT, MAX_EMAIL_LENGTH
from recur.http.pagination import decode_cursor
from recur.http.representations.kit import STATUSES

DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII only: str.isdigit() also takes "²", which int() refuses
SERIAL = re.compile(r"[0-9]{1,19}")
MAX_BIGINT = 2**63 - 1
FORMATS = ("json", "csv", "xlsx")
BETWEEN_ACCEPTED_DATES = f"must be between {EARLIEST_INSTANT.date().isoformat()} and {LATEST_INSTANT.date().isoformat()}"


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation-error", "Invalid request", f"{field} {message}", {field: [message]})


def parse_instant(raw: str) -> datetime:
    """An ISO 8601 timestamp (a `+` that a query string turned into a space is put back); naive means UTC."""
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Optional(fields.Field):
    """Empty means absent."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value == "":
            return None
        return super().deserialize(value, attr, data, **kwargs)


class QueryUUID(Optional, fields.UUID):
    default_error_messages = {"invalid_uuid": "must be a UUID"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return str(UUID(str(value)))
        except ValueError:
            raise self.make_error("invalid_uuid") from None


class Choice(Optional, fields.String):
    def __init__(self, choices: list[str] | tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(choices, error=f"must be one of {', '.join(choices)}"), **kwargs)


class Limit(fields.Integer):
    """A page size: ASCII digits, within bounds."""

    def __init__(self, default: int = 50, maximum: int = 500) -> None:
        self.message = f"must be between 1 and {maximum}"
        super().__init__(load_default=default, validate=validate.Range(1, maximum, error=self.message),
                         metadata={"description": "page size"})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not DIGITS.fullmatch(value):
            raise ValidationError(self.message)
        return int(value)


class Cursor(Optional, fields.String):
    """The next_cursor of the previous page: exactly what the API wrote, or a 422."""

    def __init__(self, id_is_uuid: bool = True) -> None:
        super().__init__(metadata={"description": "the next_cursor of the previous page"})
        self.id_is_uuid = id_is_uuid

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, str] | None:
        try:
            return decode_cursor(str(value), id_is_uuid=self.id_is_uuid)
        except ApiError:
            raise ValidationError("invalid cursor") from None


class SerialCursor(Cursor):
    """A cursor over rows numbered by a bigserial: its id part is digits that fit a bigint, or the cursor is a 422."""

    def __init__(self) -> None:
        super().__init__(id_is_uuid=False)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[str, str] | None:
        after = super()._deserialize(value, attr, data, **kwargs)
        if after is not None and not (SERIAL.fullmatch(after[1]) and int(after[1]) <= MAX_BIGINT):
            raise ValidationError("invalid cursor")
        return after


class QueryText(Optional, Text):
    """Free text that storage can compare with (no NUL, no lone surrogate), within a length."""


class Timestamp(Optional, fields.DateTime):
    """An ISO 8601 timestamp; without an offset it is UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_instant(str(value))
        except ValueError:
            raise ValidationError("not an ISO 8601 timestamp") from None


class PeriodBound(Optional, fields.String):
    """A date (the whole day: `to` includes it) or an ISO 8601 timestamp, between 2000 and 2100, in UTC."""

    def __init__(self, end: bool, description: str, **kwargs: Any) -> None:
        super().__init__(metadata={"description": description}, **kwargs)
        self.end = end

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        raw = str(value)
        whole_day = len(raw) == 10
        try:
            moment = datetime.combine(date.fromisoformat(raw), time(), UTC) if whole_day else parse_instant(raw)
        except ValueError:
            raise ValidationError("must be a date (2026-11-01) or an ISO 8601 timestamp") from None
        if not EARLIEST_INSTANT <= moment <= LATEST_INSTANT:
            raise ValidationError(BETWEEN_ACCEPTED_DATES)
        moment = moment.astimezone(UTC)
        return moment + timedelta(days=1) if whole_day and self.end else moment


def tenant_parameter() -> QueryUUID:
    return QueryUUID(metadata={"description": "admin credentials only: whose data"})


def filter_parameter(what: str) -> QueryUUID:
    return QueryUUID(metadata={"description": f"only this {what}"})


# ---------------------------------------------------------------- the query strings of the API
class ProductsQuery(Schema):
    producer_id = tenant_parameter()
    limit = Limit()
    cursor = Cursor()


class ReportSchedulesQuery(Schema):
    producer_id = tenant_parameter()
    limit = Limit()
    cursor = Cursor()


class WebhookEndpointsQuery(Schema):
    producer_id = tenant_parameter()
    limit = Limit()
    cursor = Cursor()


class WebhookDeliveriesQuery(Schema):
    status = Choice(("pending", "succeeded", "failed"), metadata={"description": "only this status"})
    limit = Limit()
    cursor = SerialCursor()


class SubscriptionsQuery(Schema):
    status = Choice(STATUSES, metadata={"description": "only this status"})
    product_id = filter_parameter("product")
    plan_id = filter_parameter("plan")
    producer_id = tenant_parameter()
    limit = Limit()
    cursor = Cursor()


class AsOfQuery(Schema):
    as_of = Timestamp(metadata={"description": "the state at this instant, rebuilt from its events"})


class PeriodQuery(Schema):
    # `from` is a Python keyword: the field is from_, its parameter `from`.
    from_ = PeriodBound(False, "start: a date (whole day) or an ISO 8601 timestamp; default 30 days before `to`", data_key="from")
    to = PeriodBound(True, "end: a date (that day included) or an ISO 8601 timestamp; default now")


class DashboardFilters(PeriodQuery):
    product_id = filter_parameter("product")
    plan_id = filter_parameter("plan")


class DashboardQuery(DashboardFilters):
    producer_id = tenant_parameter()


class ReportQuery(PeriodQuery):
    product_id = filter_parameter("product")
    producer_id = tenant_parameter()
    format = Choice(FORMATS, load_default="json", metadata={"description": "json pages, or the whole period as a file"})
    limit = Limit(default=100, maximum=1000)
    cursor = Cursor(id_is_uuid=False)


class SubscriptionsReportQuery(ReportQuery):
    cursor = Cursor(id_is_uuid=True)


class OutboxQuery(Schema):
    to = QueryText(max_length=MAX_EMAIL_LENGTH, metadata={"description": "only messages to this recipient (exact, case-insensitive)"})
    kind = QueryText(max_length=64, validate=validate.Regexp(r"^[a-z0-9_]+$", error="must be a kind such as renewal_reminder"),
                     metadata={"description": "only messages of this kind (their X-Recur-Kind header): renewal_reminder, "
                               "charge_failed, report, ..."})
    limit = Limit(default=20, maximum=100)
    cursor = SerialCursor()


def period(query: dict[str, Any], now: datetime, default_days: int = 30) -> tuple[datetime, datetime]:
    """[start, end) from a loaded PeriodQuery: by default the `default_days` before `to`, itself now by default."""
    end = query.get("to") or now
    start = query.get("from_") or end - timedelta(days=default_days)
    if start >= end:
        raise invalid("from", "must be before to")
    if end - start > timedelta(days=3 * 366):
        raise invalid("from", "the period is limited to three years")
    return start, end


class NotificationId(Optional, fields.Integer):
    """A position in the event log: ASCII digits that fit a bigint, at least 1."""

    message = f"must be a notification id, 1 to {MAX_BIGINT}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not SERIAL.fullmatch(value) or not 1 <= int(value) <= MAX_BIGINT:
            raise ValidationError(self.message)
        return int(value)


class CheckpointParameter(Optional, fields.String):
    """A checkpoint of the event log's hash chain: `ID/HASH`, or the JSON message as published."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Checkpoint:
        try:
            return Checkpoint.parse(str(value))
        except InvalidCheckpointError as error:
            raise ValidationError(str(error)) from None


class AuditVerifyQuery(Schema):
    from_ = NotificationId(data_key="from", metadata={"description": "start at this notification id, taking the stored hash of "
                                                       "the event before it as given (default: the first event)"})
    checkpoint = CheckpointParameter(metadata={"description": "also prove the history up to a checkpoint was not rewritten: "
                                               "`<notification_id>/<hash>` as published on recur.audit.v1"})
