"""Checkpoints of the event log's hash chain: its head (a notification id and the chain hash there) at a moment.

Why: the chain alone shows that rows were edited, deleted or moved only to someone who cannot recompute it.
Whoever can rewrite the whole table can also recompute every hash after what they changed. A checkpoint copied
out of the database (recur publishes each one to the Kafka topic recur.audit.v1, and auditors keep them) pins
the history up to its notification id: recomputing the chain from the first event must give the same hash
there, whatever has happened to the table since.

Checkpoints are recorded in `audit_checkpoints` (published_at is set once the broker acknowledged them), by the
scheduler every hour and when it stops, and by `recur audit checkpoint`. A head that did not move since the last
checkpoint is not recorded again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.db import Database

_HASH = re.compile(r"[0-9a-f]{64}")


class InvalidCheckpointError(ValueError):
    """What was given as a checkpoint is not one: the message says what is wrong."""


@dataclass(frozen=True)
class Checkpoint:
    notification_id: int
    hash: str  # the chain hash at notification_id, 64 lowercase hex digits
    at: datetime | None = None  # when it was recorded; unknown for one given as ID/HASH

    def message(self) -> dict[str, Any]:
        """What is published to recur.audit.v1, and what `recur audit verify --checkpoint` takes back."""
        return {"notification_id": self.notification_id, "hash": self.hash, "at": self.at.isoformat() if self.at else None}

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """A checkpoint as published (a JSON object with `notification_id` and `hash`) or written `ID/HASH`."""
        given = _given_json(text) if text.strip().startswith("{") else _given_shorthand(text)
        notification_id, digest, at = given.get("notification_id"), given.get("hash"), given.get("at")
        if not isinstance(notification_id, int) or isinstance(notification_id, bool) or not 0 < notification_id < 2**63:
            raise InvalidCheckpointError("a checkpoint's notification_id must be a positive integer (ID/HASH or the published JSON)")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest.lower()):
            raise InvalidCheckpointError("a checkpoint's hash must be 64 hexadecimal digits (ID/HASH or the published JSON)")
        return cls(notification_id, digest.lower(), _instant(at))


def _given_json(text: str) -> dict[str, Any]:
    try:
        given = json.loads(text)
    except ValueError as error:
        raise InvalidCheckpointError(f"the checkpoint is not valid JSON: {error}") from None
    if not isinstance(given, dict):
        raise InvalidCheckpointError("the checkpoint must be a JSON object")
    return given


def _given_shorthand(text: str) -> dict[str, Any]:
    notification_id, _, digest = text.strip().partition("/")
    return {"notification_id": int(notification_id) if notification_id.isascii() and notification_id.isdigit() else None, "hash": digest}


def _instant(at: Any) -> datetime | None:
    if at is None:
        return None
    try:
        return datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        raise InvalidCheckpointError(f"a checkpoint's `at` must be an ISO 8601 instant, not {at!r}") from None


# The head of the log, recorded unless that head already has its checkpoint (then that one is returned). A
# head without a chain hash (a row someone inserted with the triggers disabled) is not checkpointed.
_RECORD = """
WITH head AS (
    SELECT notification_id, chain_hash FROM recur_events ORDER BY notification_id DESC LIMIT 1
), recorded AS (
    INSERT INTO audit_checkpoints (notification_id, chain_hash)
    SELECT notification_id, chain_hash FROM head WHERE chain_hash IS NOT NULL
    ON CONFLICT (notification_id) DO NOTHING
    RETURNING notification_id, chain_hash, at
)
SELECT notification_id, chain_hash, at FROM recorded
UNION ALL
SELECT known.notification_id, known.chain_hash, known.at FROM audit_checkpoints known JOIN head USING (notification_id)
"""


def record_checkpoint(db: Database) -> Checkpoint | None:
    """The checkpoint of the log's head as it is now (recorded if new); None when there is nothing to checkpoint."""
    with db.transaction() as cur:
        cur.execute(_RECORD)
        row = cur.fetchone()
    return None if row is None else _checkpoint(row)


def recorded_checkpoints(db: Database, limit: int = 20) -> list[Checkpoint]:
    """The latest checkpoints recorded here, newest first."""
    rows = db.fetchall("SELECT notification_id, chain_hash, at FROM audit_checkpoints ORDER BY notification_id DESC LIMIT %s", (limit,))
    return [_checkpoint(row) for row in rows]


def unpublished_checkpoints(cur: Any, limit: int) -> list[Checkpoint]:
    """Checkpoints not yet acknowledged by the broker, oldest first, locked for this transaction (SKIP LOCKED: two
    publishers never send the same ones at once)."""
    cur.execute(
        "SELECT notification_id, chain_hash, at FROM audit_checkpoints WHERE published_at IS NULL "
        "ORDER BY notification_id LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return [_checkpoint(row) for row in cur.fetchall()]


def mark_published(cur: Any, checkpoints: list[Checkpoint]) -> None:
    cur.execute("UPDATE audit_checkpoints SET published_at = now() WHERE notification_id = ANY(%s)",
                ([c.notification_id for c in checkpoints],))


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    notification_id, chain_hash, at = row
    return Checkpoint(int(notification_id), bytes(chain_hash).hex(), at)
