"""Query-string parameters: checked here, so a bad value is a 422 naming it, never a database error."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from flask import request

from recur.http.errors import ApiError
from recur.http.limits import EARLIEST_INSTANT, LATEST_INSTANT


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation-error", "Invalid request", f"{field} {message}", {field: [message]})


def as_uuid(field: str, value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise invalid(field, "must be a UUID") from None


def optional_uuid(field: str) -> str | None:
    value = request.args.get(field)
    return as_uuid(field, value) if value else None


def within_accepted_dates(field: str, moment: datetime) -> datetime:
    """The instant in UTC, if it falls where recur keeps anything (years 2000 to 2100).

    Outside, date arithmetic overflows (9999-12-31 plus a day) and PostgreSQL refuses some offsets
    (-23:59): a 422 naming the parameter says more than either failure would.
    """
    if not EARLIEST_INSTANT <= moment <= LATEST_INSTANT:
        raise invalid(field, f"must be between {EARLIEST_INSTANT.date().isoformat()} and {LATEST_INSTANT.date().isoformat()}")
    return moment.astimezone(UTC)
