"""Cursor pagination: an opaque cursor naming the last row seen (its sort key and id).

A cursor comes back from the client, so it is decoded strictly: exactly what encode_cursor wrote
(a UTC timestamp and an id of the expected kind) or a 422 naming `cursor`, never a value that
PostgreSQL then refuses (an offset of -23:59, a non-UUID for a uuid column, a NUL character).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from recur.http.errors import ApiError
from recur.http.fields import unstorable
from recur.http.limits import MAX_CURSOR_LENGTH, MAX_TEXT_ID_LENGTH

DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def encode_cursor(sort_key: datetime, row_id: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_key.astimezone(UTC).isoformat(), str(row_id)]).encode()).decode()


def decode_cursor(cursor: str | None, id_is_uuid: bool = True) -> tuple[str, str] | None:
    """The (UTC timestamp, id) a cursor names; ids are UUIDs, or short storable text (report transaction ids)."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(part, str) for part in decoded)):
            raise ValueError("not a cursor")
        sort_key = datetime.fromisoformat(decoded[0])
        if sort_key.utcoffset() != timedelta(0):
            raise ValueError("cursors are written in UTC")
        return sort_key.isoformat(), _row_id(decoded[1], id_is_uuid)
    except (ValueError, RecursionError):
        raise ApiError(422, "validation-error", "Invalid request", "cursor is not one this API returned; start without it",
                       {"cursor": ["invalid cursor"]}) from None


def _row_id(raw: str, id_is_uuid: bool) -> str:
    if id_is_uuid:
        return str(UUID(raw))
    if not raw or len(raw) > MAX_TEXT_ID_LENGTH or unstorable(raw):
        raise ValueError("not an id")
    return raw
