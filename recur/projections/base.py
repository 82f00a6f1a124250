"""A projection is a name, the topics it reads, and one small handler per event name.

Applying is idempotent: a per-aggregate version guard skips anything already applied, and the
positions are written in the same transaction as the rows they account for.

An event a handler cannot apply (a value PostgreSQL refuses, a handler bug) must not stop the read
model for everyone else. Applying with `isolate=True` runs each event under a savepoint: the one that
fails is rolled back alone and its aggregate becomes *blocked* for this projection, so its later
events are held back rather than applied on top of a missing one (an aggregate's events only make
sense in order). The caller gets both as setbacks and keeps them as dead letters; after a fix,
`apply_held` applies them in version order and unblocks the aggregate. A rebuild then equals the
live read model, because neither ever applied an aggregate's events out of order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from recur.db import is_transient
from recur.projections.batching import BatchingCursor

Handler = Callable[[Any, dict[str, Any]], None]
Delivery = tuple[str, int, dict[str, Any]]  # (topic, partition, event) as the relay published it
log = logging.getLogger(__name__)


@dataclass
class Projection:
    name: str
    topics: list[str]
    tables: list[str]
    handlers: dict[str, Handler] = field(default_factory=dict)

    def on(self, *event_names: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in event_names:
                self.handlers[name] = handler
            return handler

        return register


def event_short_name(event: dict[str, Any]) -> str:
    return str(event["type"]).rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Setback:
    """An event this projection did not apply: it failed (`error`), or it is held behind the aggregate's
    version `blocked_at`, which failed earlier."""

    projection: str
    topic: str
    partition: int
    event: dict[str, Any]
    blocked_at: int
    error: BaseException | None = None

    @property
    def held(self) -> bool:
        return self.error is None


@dataclass
class Outcome:
    applied: int = 0
    setbacks: list[Setback] = field(default_factory=list)


class _Step(Enum):
    APPLY = "apply"
    SKIP = "skip"  # already applied
    HOLD = "hold"  # its aggregate is blocked
    WAIT = "wait"  # an earlier version has not arrived yet


class _Tracking:
    """The version guard and positions of one projection for one batch, read and written once."""

    def __init__(self, cur: Any, projection: Projection, aggregate_ids: list[str]) -> None:
        self.projection = projection
        cur.execute(
            "SELECT aggregate_id::text, version, blocked_at FROM projection_versions WHERE projection = %s "
            "AND aggregate_id = ANY(%s::uuid[]) FOR UPDATE",
            (projection.name, aggregate_ids),
        )
        rows = cur.fetchall()
        self.versions: dict[str, int] = {a: v for a, v, _ in rows}
        self.blocked: dict[str, int] = {a: b for a, _, b in rows if b is not None}
        self.known = set(self.versions)
        self.positions: dict[tuple[str, int], tuple[int, str]] = {}
        self.gapped: set[tuple[str, int]] = set()

    def admit(self, topic: str, partition: int, event: dict[str, Any]) -> _Step:
        aggregate_id, version = event["aggregate_id"], event["version"]
        current = self.versions.get(aggregate_id, 0)
        blocked = self.blocked.get(aggregate_id)
        if version > current + 1 and (blocked is None or version < blocked):
            # An earlier event of this aggregate has not arrived (a broker that lost messages): wait for it.
            # The relay republishes the whole history in order in that case, so it will come, followed by
            # this one again. Applying now would make the guard drop the earlier one forever.
            log.warning("%s: %s version %d arrived before version %d; waiting for the history", self.projection.name,
                        aggregate_id, version, current + 1)
            self.gapped.add((topic, partition))
            return _Step.WAIT
        tp = (topic, partition)
        if tp not in self.positions or self.positions[tp][0] < event["notification_id"]:
            self.positions[tp] = (event["notification_id"], event["occurred_at"])
        if version <= current:
            return _Step.SKIP
        if blocked is not None:
            return _Step.HOLD
        return _Step.APPLY

    def applied(self, event: dict[str, Any]) -> None:
        self.versions[event["aggregate_id"]] = event["version"]

    def block(self, event: dict[str, Any]) -> None:
        self.blocked[event["aggregate_id"]] = event["version"]
        self.versions.setdefault(event["aggregate_id"], event["version"] - 1)

    def save(self, cur: Any) -> None:
        name = self.projection.name
        for aggregate_id, version in self.versions.items():
            blocked = self.blocked.get(aggregate_id)
            if aggregate_id in self.known:
                cur.execute(
                    "UPDATE projection_versions SET version = %s, blocked_at = %s WHERE projection = %s AND aggregate_id = %s",
                    (version, blocked, name, aggregate_id),
                )
            else:
                cur.execute(
                    "INSERT INTO projection_versions (projection, aggregate_id, version, blocked_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = greatest(projection_versions.version, "
                    "EXCLUDED.version), blocked_at = coalesce(projection_versions.blocked_at, EXCLUDED.blocked_at)",
                    (name, aggregate_id, version, blocked),
                )
        for tp in self.gapped:
            self.positions.pop(tp, None)
        for (topic, partition), (notification_id, occurred_at) in self.positions.items():
            cur.execute(
                "INSERT INTO projection_positions (projection, topic, partition, last_notification_id, last_event_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, topic, partition) DO UPDATE SET "
                "last_notification_id = greatest(projection_positions.last_notification_id, EXCLUDED.last_notification_id), "
                "last_event_at = EXCLUDED.last_event_at, updated_at = now()",
                (name, topic, partition, notification_id, occurred_at),
            )


def apply_events(cur: Any, projection: Projection, events: Iterable[Delivery], isolate: bool = False) -> Outcome:
    """Apply (topic, partition, event) in order inside the caller's transaction. The caller commits.

    Without `isolate` (the fast path: statements sent a hundred at a time) any failure propagates and the
    caller must roll back; it then applies the batch again with `isolate`, where an event that fails is
    rolled back alone (a savepoint) and returned as a setback with its error, and its aggregate is blocked.
    Errors that say the database is unavailable (`is_transient`) always propagate: they are retried, never
    blamed on an event. Events of a blocked aggregate come back as held setbacks on either path.
    """
    batch = [e for e in events if e[0] in projection.topics]
    if not batch:
        return Outcome()
    batching = BatchingCursor(cur)
    tracking = _Tracking(batching, projection, list({e[2]["aggregate_id"] for e in batch}))
    outcome = Outcome()
    for topic, partition, event in batch:
        step = tracking.admit(topic, partition, event)
        if step is _Step.HOLD:
            outcome.setbacks.append(Setback(projection.name, topic, partition, event, tracking.blocked[event["aggregate_id"]]))
            continue
        if step is not _Step.APPLY:
            continue
        handler = projection.handlers.get(event_short_name(event))
        if handler is not None:
            if isolate:
                error = _apply_alone(cur, batching, handler, event)
                if error is not None:
                    tracking.block(event)
                    outcome.setbacks.append(Setback(projection.name, topic, partition, event, event["version"], error))
                    continue
            else:
                handler(batching, event)
        tracking.applied(event)
        outcome.applied += 1
    tracking.save(batching)
    batching.flush()
    return outcome


def _apply_alone(cur: Any, batching: BatchingCursor, handler: Handler, event: dict[str, Any]) -> BaseException | None:
    """Run one handler under a savepoint; on failure undo just it and return the error."""
    batching.flush()
    cur.execute("SAVEPOINT recur_event")
    try:
        handler(batching, event)
        batching.flush()
    except Exception as error:
        if is_transient(error):
            raise
        batching.discard()
        cur.execute("ROLLBACK TO SAVEPOINT recur_event")
        return error
    cur.execute("RELEASE SAVEPOINT recur_event")
    return None


@dataclass
class Retried:
    """What `apply_held` did with one aggregate's held events."""

    applied: list[int] = field(default_factory=list)  # versions now in the read model
    failed_version: int | None = None
    error: BaseException | None = None
    waiting_for: int | None = None  # a version that has not arrived yet (none of its events held)

    @property
    def unblocked(self) -> bool:
        return self.failed_version is None and self.waiting_for is None


def lock_aggregate(cur: Any, projection: Projection, aggregate_id: str) -> int:
    """Lock an aggregate's version row for this projection (the live consumer locks it too, so it waits
    until the caller commits); returns the version applied so far."""
    cur.execute(
        "SELECT version FROM projection_versions WHERE projection = %s AND aggregate_id = %s FOR UPDATE",
        (projection.name, aggregate_id),
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def apply_held(cur: Any, projection: Projection, aggregate_id: str, events: list[dict[str, Any]]) -> Retried:
    """Apply a blocked aggregate's held events in version order, after a fix; stop at the first that still
    fails. Read the held events after `lock_aggregate`, so that none the consumer holds meanwhile is missed:
    the consumer then sees the aggregate unblocked or still blocked, never half of each. The caller commits."""
    current = lock_aggregate(cur, projection, aggregate_id)
    result = Retried()
    batching = BatchingCursor(cur)
    for event in sorted(events, key=lambda e: int(e["version"])):
        version = int(event["version"])
        if version <= current:
            result.applied.append(version)  # already in the read model (a rebuild applied it after the fix)
            continue
        if version > current + 1:
            result.waiting_for = current + 1
            break
        handler = projection.handlers.get(event_short_name(event))
        error = _apply_alone(cur, batching, handler, event) if handler is not None else None
        if error is not None:
            result.failed_version, result.error = version, error
            break
        current = version
        result.applied.append(version)
    blocked = result.failed_version or result.waiting_for
    cur.execute(
        "INSERT INTO projection_versions (projection, aggregate_id, version, blocked_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = EXCLUDED.version, blocked_at = EXCLUDED.blocked_at",
        (projection.name, aggregate_id, current, blocked),
    )
    return result
