"""The sanctioned rewrites of the event log (migration 017): each time recur itself changed stored rows and recomputed
the hash chain after them, the record of it.

Why keep one: a rewrite changes the chain hash of every event from its first changed row on, so a checkpoint an auditor
took before it no longer matches. Recorded with the chain head before and after, and with the checkpoints it superseded
marked, the mismatch has a stated cause the auditor can weigh, rather than looking like tampering, or like nothing at
all. The record lives in the same database as the events, so it explains a mismatch and proves nothing: what proves is
the checkpoints before and after, published to recur.audit.v1 and kept outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.db import Database

_COLUMNS = "id, reason, first_changed_id, rows_changed, rows_rechained, head_id, head_hash_before, head_hash_after, at"


@dataclass(frozen=True)
class Rewrite:
    id: int
    reason: str
    first_changed_id: int
    rows_changed: int  # rows whose stored bytes changed
    rows_rechained: int  # rows whose chain hash was recomputed: every one from the first changed to the head
    head_id: int
    head_hash_before: str  # hex
    head_hash_after: str
    at: datetime

    def describe(self) -> str:
        """The rewrite in one sentence, as `recur audit verify` and `checkpoints` print it."""
        return (f"rewrite {self.id} recorded at {self.at.isoformat()}: {self.reason}; {self.rows_changed} events changed from "
                f"notification id {self.first_changed_id}, the chain recomputed over {self.rows_rechained} events; head "
                f"{self.head_id} was {self.head_hash_before}, is {self.head_hash_after}")

    def message(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "first_changed_notification_id": self.first_changed_id,
                "rows_changed": self.rows_changed, "rows_rechained": self.rows_rechained,
                "head_before": {"notification_id": self.head_id, "hash": self.head_hash_before},
                "head_after": {"notification_id": self.head_id, "hash": self.head_hash_after}, "at": self.at.isoformat()}


def record_rewrite(cur: Any, reason: str, first_changed_id: int, rows_changed: int, rows_rechained: int, head_id: int,
                   before: bytes, after: bytes) -> Rewrite:
    """In the rewrite's own transaction: the record, and every current checkpoint from the first changed row on marked
    as superseded by it (they stay, to be published if they were not yet, and to be recognised later)."""
    cur.execute(
        "INSERT INTO audit_rewrites (reason, first_changed_id, rows_changed, rows_rechained, head_id, head_hash_before, "
        f"head_hash_after) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (reason, first_changed_id, rows_changed, rows_rechained, head_id, before, after),
    )
    rewrite = _rewrite(cur.fetchone())
    cur.execute("UPDATE audit_checkpoints SET superseded_by = %s WHERE notification_id >= %s AND superseded_by IS NULL",
                (rewrite.id, first_changed_id))
    return rewrite


def recorded_rewrites(db: Database) -> list[Rewrite]:
    """Every rewrite recorded, oldest first (a handful at most: each is a deliberate, one-off operation)."""
    return [_rewrite(row) for row in db.fetchall(f"SELECT {_COLUMNS} FROM audit_rewrites ORDER BY id")]


def _rewrite(row: tuple[Any, ...]) -> Rewrite:
    rewrite_id, reason, first, changed, rechained, head_id, before, after, at = row
    return Rewrite(int(rewrite_id), reason, int(first), int(changed), int(rechained), int(head_id), bytes(before).hex(),
                   bytes(after).hex(), at)
