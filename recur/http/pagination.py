"""Cursor pagination: an opaque cursor naming the last row seen (its sort key and id)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from flask import request

from recur.http.errors import ApiError


def page_limit(default: int = 50, maximum: int = 500) -> int:
    raw = request.args.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(
            422,
            "validation-error",
            "Invalid request",
            f"limit must be an integer between 1 and {maximum}",
            {"limit": [f"must be between 1 and {maximum}"]},
        )
    return int(raw)


def encode_cursor(sort_key: datetime, row_id: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_key.isoformat(), str(row_id)]).encode()).decode()


def decode_cursor(cursor: str | None, id_is_uuid: bool = True) -> tuple[str, str] | None:
    if not cursor:
        return None
    try:
        sort_key, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        datetime.fromisoformat(sort_key)
        return str(sort_key), str(UUID(str(row_id))) if id_is_uuid else str(row_id)
    except (ValueError, TypeError):
        raise ApiError(422, "validation-error", "Invalid request", "cursor is not one this API returned; start without it",
                       {"cursor": ["invalid cursor"]}) from None
