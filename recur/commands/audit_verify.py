"""Recomputing the event log's hash chain (recur/commands/audit_chain.py), for `recur audit verify` and
`GET /v1/audit/verify`.

The log is read in notification order through a server-side cursor, a batch at a time, inside one
REPEATABLE READ transaction: memory stays flat whatever the size of the log, and the rows seen are one
consistent prefix of it (writers commit in notification order under eventsourcing's table lock). Each row's hash
is recomputed from the one recomputed before it and compared with the stored one; the first row where they
differ is the first break:

- a row edited (its topic, state, aggregate or version changed) breaks at that row;
- a row deleted breaks at the row after it (its hash was computed from the deleted row's);
- a row inserted without a hash, or with a made-up one, breaks at that row; one given the hash its
  predecessor implies breaks at the row after it, as a deletion does;
- two rows swapped break at the first of them (the notification id is part of what is hashed).

A checkpoint (recur/commands/audit_checkpoints.py) given to the verification is checked on the way: the hash
recomputed at its notification id must be the checkpoint's. That is what finds a history rewritten with every
hash recomputed, which leaves no break, and the last events deleted, which no later row can tell.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from recur.commands.audit_chain import GENESIS, StoredRow, link
from recur.commands.audit_checkpoints import Checkpoint
from recur.commands.audit_rewrites import Rewrite, recorded_rewrites
from recur.db import Database
from recur.deadlines import answer_within

BATCH = 2000
# Each batch must arrive within this: the verification as a whole may take as long as the log needs.
BATCH_SECONDS = 30.0

_COLUMNS = "notification_id, originator_id, originator_version, topic, state, chain_hash"


class CheckpointOutOfRangeError(ValueError):
    """A checkpoint before where the verification starts cannot be checked: the chain up to it is not recomputed."""


@dataclass(frozen=True)
class ChainHead:
    notification_id: int
    hash: str  # hex


@dataclass(frozen=True)
class ChainBreak:
    """The first event whose stored hash is not the one recomputed."""

    notification_id: int
    aggregate_id: str
    version: int
    previous_notification_id: int | None  # the last event that verified (a jump from it may be a deletion)


@dataclass(frozen=True)
class CheckpointCheck:
    checkpoint: Checkpoint
    matches: bool | None  # None: not reached, the chain broke before it
    found: str  # what the verification found at the checkpoint's notification id, in words


@dataclass(frozen=True)
class Verification:
    events_checked: int
    head: ChainHead | None  # the last event that verified: the log's head when the whole chain holds
    first_break: ChainBreak | None
    checkpoints: list[CheckpointCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None and all(check.matches for check in self.checkpoints)


def log_bounds(db: Database) -> tuple[int, int] | None:
    """The first and last notification ids of the log (None when it is empty): a progress bar's length."""
    row = db.fetchone("SELECT min(notification_id), max(notification_id) FROM recur_events")
    return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


def verify_chain(db: Database, start: int | None = None, checkpoints: Iterable[Checkpoint] = (),
                 progress: Callable[[int], None] | None = None) -> Verification:
    """Recompute the chain from `start` (default: the first event) to the head; `progress` is told the notification
    id reached after each batch. From `start`, the stored hash of the event before it is taken as given."""
    pending = sorted(checkpoints, key=lambda checkpoint: checkpoint.notification_id)
    if start is not None and pending and pending[0].notification_id < start:
        raise CheckpointOutOfRangeError(
            f"checkpoint {pending[0].notification_id} is before {start}, where the verification starts: verify from the first event"
        )
    with db.transaction() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        previous_id, previous_hash = _anchor(cur, start)
        # closing(): the server-side cursor is closed before the transaction ends, also when the walk stops at a break.
        with contextlib.closing(_stream(cur, start, progress)) as rows:
            verification = _walk(rows, previous_id, previous_hash, pending)
    if any(check.matches is False for check in verification.checkpoints):
        explained = [_explained(check, db) for check in verification.checkpoints]
        verification = Verification(verification.events_checked, verification.head, verification.first_break, explained)
    return verification


def _anchor(cur: Any, start: int | None) -> tuple[int | None, bytes]:
    """Where the recomputation starts from: the genesis, or the stored hash of the event before `start`."""
    if start is None:
        return None, GENESIS
    cur.execute("SELECT notification_id, chain_hash FROM recur_events WHERE notification_id < %s ORDER BY notification_id DESC LIMIT 1",
                (start,))
    row = cur.fetchone()
    if row is None:
        return None, GENESIS
    return int(row[0]), bytes(row[1]) if row[1] is not None else GENESIS


def _stream(cur: Any, start: int | None, progress: Callable[[int], None] | None) -> Generator[StoredRow, None, None]:
    """The rows from `start` in notification order, fetched a batch at a time from a server-side cursor."""
    with cur.connection.cursor(name="recur_audit_verify") as rows:
        rows.execute(f"SELECT {_COLUMNS} FROM recur_events WHERE notification_id >= %s ORDER BY notification_id", (start or 0,))
        while True:
            with answer_within(BATCH_SECONDS):
                batch = rows.fetchmany(BATCH)
            if not batch:
                return
            for notification_id, originator_id, version, topic, state, chain_hash in batch:
                yield StoredRow(int(notification_id), UUID(str(originator_id)), int(version), topic,
                                None if state is None else bytes(state), None if chain_hash is None else bytes(chain_hash))
            if progress is not None:
                progress(int(batch[-1][0]))


def _walk(rows: Iterator[StoredRow], previous_id: int | None, previous_hash: bytes, pending: list[Checkpoint]) -> Verification:
    checked, checks = 0, []
    for row in rows:
        checked += 1
        computed = link(previous_hash, row)
        if row.chain_hash != computed:
            checks += [CheckpointCheck(c, None, "not reached: the chain breaks before it") for c in pending]
            return Verification(checked, _head(previous_id, previous_hash), ChainBreak(
                row.notification_id, str(row.originator_id), row.originator_version, previous_id), checks)
        while pending and pending[0].notification_id <= row.notification_id:
            checks.append(_check(pending.pop(0), row.notification_id, computed))
        previous_id, previous_hash = row.notification_id, computed
    checks += [CheckpointCheck(c, False, f"no event: the log ends at {previous_id}") for c in pending]
    return Verification(checked, _head(previous_id, previous_hash), None, checks)


def _check(checkpoint: Checkpoint, notification_id: int, computed: bytes) -> CheckpointCheck:
    if checkpoint.notification_id != notification_id:
        return CheckpointCheck(checkpoint, False, "no event: the event at this notification id is gone")
    if checkpoint.hash != computed.hex():
        return CheckpointCheck(checkpoint, False, f"the chain hash is {computed.hex()}: the history up to it was rewritten")
    return CheckpointCheck(checkpoint, True, "the same chain hash")


def _explained(check: CheckpointCheck, db: Database) -> CheckpointCheck:
    """A checkpoint that does not match, at or after the first event a recorded rewrite changed: the rewrite is named,
    so an auditor sees the stated cause (which they weigh against the checkpoints before and after it they kept)."""
    if check.matches is not False:
        return check
    checkpoint = check.checkpoint
    rewrites: list[Rewrite] = [r for r in recorded_rewrites(db) if r.first_changed_id <= checkpoint.notification_id]
    if not rewrites:
        return check
    recorded = db.fetchone("SELECT superseded_by FROM audit_checkpoints WHERE notification_id = %s AND chain_hash = %s",
                           (checkpoint.notification_id, bytes.fromhex(checkpoint.hash)))
    marked = None if recorded is None or recorded[0] is None else int(recorded[0])
    # Recorded here: the rewrite that marked it. Given from elsewhere: the latest that changed events up to it.
    rewrite = next((r for r in rewrites if r.id == marked), rewrites[-1])
    known = f" (recur recorded this checkpoint itself, and marked it superseded by rewrite {marked})" if marked else ""
    return CheckpointCheck(checkpoint, False, f"{check.found}; SUPERSEDED, if it was taken before {rewrite.at.isoformat()}, "
                                              f"by the sanctioned {rewrite.describe()}{known}")


def _head(notification_id: int | None, chain_hash: bytes) -> ChainHead | None:
    return None if notification_id is None else ChainHead(notification_id, chain_hash.hex())
