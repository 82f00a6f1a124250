"""Reading a Kafka message as a recur event, refusing what is not one before it reaches the read models.

The version guard and positions rely on a few envelope fields (aggregate id, version, notification id,
time); a message without them, or with values PostgreSQL's columns cannot hold, would fail the whole
batch's bookkeeping rather than one handler. Such a message did not come from our relay: it is a
dead letter of its own kind (`malformed`), and everything else in the batch carries on.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

INT4 = 2**31 - 1
INT8 = 2**63 - 1


class MalformedEventError(ValueError):
    """The message is not a recur event."""


def read_event(value: bytes) -> dict[str, Any]:
    try:
        event = json.loads(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedEventError(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise MalformedEventError("not a JSON object")
    _check(event)
    return event


def _check(event: dict[str, Any]) -> None:
    for name, limit in (("version", INT4), ("notification_id", INT8)):
        value = event.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise MalformedEventError(f"{name} must be an integer between 1 and {limit}, not {value!r}")
    if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
        raise MalformedEventError("type must be a string and data an object")
    try:
        UUID(str(event.get("aggregate_id")))
        datetime.fromisoformat(str(event.get("occurred_at")))
    except ValueError as error:
        raise MalformedEventError(f"aggregate_id must be a UUID and occurred_at an ISO 8601 instant: {error}") from None
    if not isinstance(event.get("aggregate_id"), str) or not isinstance(event.get("occurred_at"), str):
        raise MalformedEventError("aggregate_id and occurred_at must be strings")
