"""Query-string parameters: checked here, so a bad value is a 422 naming it, never a database error."""

from __future__ import annotations

from uuid import UUID

from flask import request

from recur.http.errors import ApiError


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
