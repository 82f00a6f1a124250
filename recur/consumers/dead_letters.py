"""Dead letters: what a projection or the relay could not handle, kept with the error until a fix.

One bad event must never stop the read models of everyone else. The consumer quarantines an event a
projection cannot apply (and holds back the later events of that aggregate, for that projection
only); the relay does the same with an event it cannot encode. Each becomes a row here, is published
to the dead-letter topic for alerting, shows in `/readyz`, `/metrics` and `recur projections status`,
and is applied in order by `recur projections retry-dead` once the cause is fixed.

Rows are written in the same transaction as the positions that move past them, so an event is never
both skipped and unrecorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.db import Database
from recur.db import describe_error as describe
from recur.projections.base import Setback, event_short_name

RELAY = "relay"


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    projection: str | None
    kind: str  # failed | held | unpublishable | malformed
    topic: str | None
    partition: int | None
    notification_id: int | None
    aggregate_id: str | None
    version: int | None
    event_name: str | None
    event_json: str
    error_class: str
    error_message: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    resolved_at: datetime | None

    @property
    def owner(self) -> str:
        """Who could not handle it: a projection's name, or the relay, or the consumer group for a stray message."""
        return self.projection or self.consumer

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.event_json)
        return value


COLUMNS = (
    "id, consumer, projection, kind, topic, partition, notification_id, aggregate_id::text, version, event_name, event, "
    "error_class, error_message, first_failed_at, last_failed_at, attempts, resolved_at"
)


@dataclass(frozen=True)
class Malformed:
    """A message on a recur topic that is not a recur event (it did not come from our relay)."""

    topic: str
    partition: int
    offset: int
    payload: bytes
    error: Exception


def as_json(value: Any) -> str:
    """JSON with every non-ASCII character escaped: storable as text whatever it holds."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


_UPSERT_TAIL = (
    "DO UPDATE SET kind = EXCLUDED.kind, error_class = EXCLUDED.error_class, error_message = EXCLUDED.error_message, "
    "last_failed_at = now(), attempts = dead_letters.attempts + 1, resolved_at = NULL, "
    "published_at = CASE WHEN dead_letters.resolved_at IS NULL THEN dead_letters.published_at END "
    # A redelivered held event changes nothing; an event failing again (a rebuild, a regression) is counted.
    "WHERE dead_letters.resolved_at IS NOT NULL OR EXCLUDED.kind <> 'held'"
)


def record_setbacks(cur: Any, consumer: str, setbacks: Iterable[Setback]) -> None:
    for s in setbacks:
        if s.held:
            error_class = "HeldBehindDeadLetter"
            message = f"version {s.blocked_at} of this aggregate could not be applied; its later events wait for it"
        else:
            assert s.error is not None
            error_class, message = describe(s.error)
        cur.execute(
            "INSERT INTO dead_letters (consumer, projection, kind, topic, partition, notification_id, aggregate_id, version, "
            "event_name, event, error_class, error_message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (projection, aggregate_id, version) WHERE projection IS NOT NULL " + _UPSERT_TAIL,
            (consumer, s.projection, "held" if s.held else "failed", s.topic, s.partition, s.event["notification_id"],
             s.event["aggregate_id"], s.event["version"], event_short_name(s.event), as_json(s.event), error_class, message),
        )


def record_malformed(cur: Any, consumer: str, messages: Iterable[Malformed]) -> None:
    for m in messages:
        error_class, message = describe(m.error)
        cur.execute(
            "INSERT INTO dead_letters (consumer, kind, topic, partition, kafka_offset, event, error_class, error_message) "
            "VALUES (%s, 'malformed', %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (consumer, topic, partition, kafka_offset) WHERE kind = 'malformed' DO NOTHING",
            (consumer, m.topic, m.partition, m.offset, as_json(m.payload.decode("utf-8", "replace")), error_class, message),
        )


@dataclass(frozen=True)
class Unpublished:
    """A stored event the relay did not publish: `error` when it could not be encoded, None when it is held
    behind an earlier event of its aggregate that could not."""

    notification_id: int
    aggregate_id: str
    version: int
    event_name: str
    stored: dict[str, Any]
    error: BaseException | None = None


def record_unpublished(cur: Any, held: Iterable[Unpublished]) -> None:
    for u in held:
        if u.error is None:
            kind, error_class = "held", "HeldBehindDeadLetter"
            message = "an earlier event of this aggregate could not be published; its later events wait for it"
        else:
            kind = "unpublishable"
            error_class, message = describe(u.error)
        cur.execute(
            "INSERT INTO dead_letters (consumer, kind, notification_id, aggregate_id, version, event_name, event, error_class, "
            "error_message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (notification_id) WHERE consumer = 'relay' " + _UPSERT_TAIL,
            (RELAY, kind, u.notification_id, u.aggregate_id, u.version, u.event_name, as_json(u.stored), error_class, message),
        )


def held_by_relay(cur: Any) -> dict[str, int]:
    """Aggregates the relay must not publish from a version on: the first of their unresolved dead letters."""
    cur.execute(
        "SELECT aggregate_id::text, min(version) FROM dead_letters WHERE consumer = %s AND resolved_at IS NULL GROUP BY 1", (RELAY,)
    )
    return {row[0]: int(row[1]) for row in cur.fetchall()}


def unresolved(db: Database, owner: str | None = None, dead_letter_id: int | None = None) -> list[DeadLetter]:
    """Unresolved dead letters, oldest first; `owner` is a projection name or `relay`."""
    rows = db.fetchall(
        f"SELECT {COLUMNS} FROM dead_letters WHERE resolved_at IS NULL "
        "AND (%(owner)s::text IS NULL OR coalesce(projection, consumer) = %(owner)s) AND (%(id)s::bigint IS NULL OR id = %(id)s) "
        "ORDER BY id",
        {"owner": owner, "id": dead_letter_id},
    )
    return [DeadLetter(*row) for row in rows]


def find(db: Database, dead_letter_id: int) -> DeadLetter | None:
    row = db.fetchone(f"SELECT {COLUMNS} FROM dead_letters WHERE id = %s", (dead_letter_id,))
    return DeadLetter(*row) if row else None


def chain(cur: Any, owner: str, aggregate_id: str) -> list[DeadLetter]:
    """One aggregate's unresolved dead letters for one projection (or the relay), in version order, locked."""
    cur.execute(
        f"SELECT {COLUMNS} FROM dead_letters WHERE resolved_at IS NULL AND coalesce(projection, consumer) = %s "
        "AND aggregate_id = %s ORDER BY version, notification_id FOR UPDATE",
        (owner, aggregate_id),
    )
    return [DeadLetter(*row) for row in cur.fetchall()]


def unresolved_counts(db: Database) -> dict[str, int]:
    """Unresolved dead letters per owner (projection name, `relay`, or a consumer group for stray messages)."""
    rows = db.fetchall(
        "SELECT coalesce(projection, consumer), count(*) FROM dead_letters WHERE resolved_at IS NULL GROUP BY 1 ORDER BY 1"
    )
    return {str(owner): int(count) for owner, count in rows}


def resolve(cur: Any, ids: list[int]) -> None:
    if ids:
        cur.execute("UPDATE dead_letters SET resolved_at = now() WHERE id = ANY(%s)", (ids,))


def failed_again(cur: Any, dead_letter_id: int, error: BaseException) -> None:
    error_class, message = describe(error)
    cur.execute(
        "UPDATE dead_letters SET kind = CASE WHEN kind <> 'held' THEN kind WHEN consumer = %s THEN 'unpublishable' ELSE 'failed' END, "
        "error_class = %s, error_message = %s, "
        "attempts = attempts + 1, last_failed_at = now() WHERE id = %s",
        (RELAY, error_class, message, dead_letter_id),
    )


def discard_malformed(db: Database, dead_letter_id: int) -> bool:
    """Mark a stray message resolved without applying anything; only for `malformed` ones. An event is never
    discarded: the read model would then differ from a rebuild. Returns whether the row was discarded."""
    with db.transaction() as cur:
        cur.execute(
            "UPDATE dead_letters SET resolved_at = now() WHERE id = %s AND kind = 'malformed' AND resolved_at IS NULL RETURNING id",
            (dead_letter_id,),
        )
        return cur.fetchone() is not None
