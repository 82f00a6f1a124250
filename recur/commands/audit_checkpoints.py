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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from recur.contract.audit import AuditCheckpoint
from recur.db import Database


class InvalidCheckpointError(ValueError):
    """What was given as a checkpoint is not one: the message says what is wrong."""


@dataclass(frozen=True)
class Checkpoint:
    notification_id: int
    hash: str  # the chain hash at notification_id, 64 lowercase hex digits
    at: datetime | None = None  # when it was recorded; unknown for one given as ID/HASH
    superseded_by: int | None = None  # the recorded rewrite (audit_rewrites) after which the chain no longer goes through it

    def message(self) -> dict[str, Any]:
        """What is published to recur.audit.v1 (its schema: recur.contract.audit), and what `recur audit verify
        --checkpoint` takes back."""
        dumped: dict[str, Any] = AuditCheckpoint().dump(self)
        return dumped

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """A checkpoint as published (the JSON message) or written `ID/HASH`."""
        given = _given_json(text) if text.strip().startswith("{") else _given_shorthand(text)
        if isinstance(given.get("notification_id"), bool):
            raise InvalidCheckpointError("a checkpoint's notification_id must be a positive integer")
        try:
            loaded = AuditCheckpoint().load(given, partial=("at",))
        except ValidationError as error:
            wrong = "; ".join(f"{name}: {' '.join(map(str, problems))}" for name, problems in sorted(error.normalized_messages().items()))
            raise InvalidCheckpointError(f"not a checkpoint (ID/HASH or the published JSON): {wrong}") from None
        return cls(loaded["notification_id"], loaded["hash"], loaded.get("at"))


def _given_json(text: str) -> dict[str, Any]:
    try:
        given = json.loads(text)
    except ValueError as error:
        raise InvalidCheckpointError(f"the checkpoint is not valid JSON: {error}") from None
    if not isinstance(given, dict):
        raise InvalidCheckpointError("the checkpoint must be a JSON object")
    if isinstance(given.get("hash"), str):
        given["hash"] = given["hash"].lower()
    given.pop("superseded_by", None)  # what `recur audit checkpoints` adds to a line: the checkpoint is the rest
    return given


def _given_shorthand(text: str) -> dict[str, Any]:
    notification_id, _, digest = text.strip().partition("/")
    number = int(notification_id) if notification_id.isascii() and notification_id.isdigit() else notification_id
    return {"notification_id": number, "hash": digest.lower()}


# The head of the log, recorded unless that head already has its current checkpoint (then that one is returned). A
# head without a chain hash (a row someone inserted with the triggers disabled) is not checkpointed. Checkpoints a
# recorded rewrite superseded (migration 017) stay beside the current ones.
_RECORD = """
WITH head AS (
    SELECT notification_id, chain_hash FROM recur_events ORDER BY notification_id DESC LIMIT 1
), recorded AS (
    INSERT INTO audit_checkpoints (notification_id, chain_hash, at)
    SELECT notification_id, chain_hash, clock_timestamp() FROM head WHERE chain_hash IS NOT NULL
    ON CONFLICT (notification_id) WHERE superseded_by IS NULL DO NOTHING
    RETURNING notification_id, chain_hash, at, superseded_by
)
SELECT notification_id, chain_hash, at, superseded_by FROM recorded
UNION ALL
SELECT known.notification_id, known.chain_hash, known.at, known.superseded_by
FROM audit_checkpoints known JOIN head USING (notification_id) WHERE known.superseded_by IS NULL
"""

_COLUMNS = "notification_id, chain_hash, at, superseded_by"


def record_checkpoint(db: Database) -> Checkpoint | None:
    """The checkpoint of the log's head as it is now (recorded if new); None when there is nothing to checkpoint."""
    with db.transaction() as cur:
        return record_checkpoint_in(cur)


def record_checkpoint_in(cur: Any) -> Checkpoint | None:
    """record_checkpoint in the caller's transaction (a rewrite records its checkpoints before and after in its own)."""
    cur.execute(_RECORD)
    row = cur.fetchone()
    return None if row is None else _checkpoint(row)


def recorded_checkpoints(db: Database, limit: int = 20) -> list[Checkpoint]:
    """The latest checkpoints recorded here, newest first (one a rewrite superseded after the one that replaced it)."""
    rows = db.fetchall(f"SELECT {_COLUMNS} FROM audit_checkpoints ORDER BY notification_id DESC, at DESC LIMIT %s", (limit,))
    return [_checkpoint(row) for row in rows]


def unpublished_count(db: Database) -> int:
    row = db.fetchone("SELECT count(*) FROM audit_checkpoints WHERE published_at IS NULL")
    return int(row[0]) if row else 0


def unpublished_checkpoints(cur: Any, limit: int) -> list[Checkpoint]:
    """Checkpoints not yet acknowledged by the broker, oldest first, locked for this transaction (SKIP LOCKED: two
    publishers never send the same ones at once)."""
    cur.execute(
        f"SELECT {_COLUMNS} FROM audit_checkpoints WHERE published_at IS NULL "
        "ORDER BY notification_id, at LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return [_checkpoint(row) for row in cur.fetchall()]


def mark_published(cur: Any, checkpoints: list[Checkpoint]) -> None:
    cur.execute("UPDATE audit_checkpoints SET published_at = now() WHERE (notification_id, chain_hash) IN "
                "(SELECT * FROM unnest(%s::bigint[], %s::bytea[]))",
                ([c.notification_id for c in checkpoints], [bytes.fromhex(c.hash) for c in checkpoints]))


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    notification_id, chain_hash, at, superseded_by = row
    return Checkpoint(int(notification_id), bytes(chain_hash).hex(), at, None if superseded_by is None else int(superseded_by))
