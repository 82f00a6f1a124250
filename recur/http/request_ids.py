"""X-Request-Id: the id that ties a request to the events it caused (stored in each event's actor).

A caller's id is kept only when it is short and plain; anything else (too long, spaces, control or
non-ASCII characters) is replaced by a fresh one rather than refused: a tracing header is never a
reason to turn a request down, but it must never put arbitrary text into the event log.
"""

from __future__ import annotations

import uuid

from recur.http.limits import REQUEST_ID


def request_id_from(header: str | None) -> str:
    if header and REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex
