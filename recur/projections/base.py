"""A projection is a name, the topics it reads, and one small handler per event name.

Applying is idempotent: a per-aggregate version guard skips anything already applied, and the
positions are written in the same transaction as the rows they account for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from recur.projections.batching import BatchingCursor

Handler = Callable[[Any, dict[str, Any]], None]
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


def apply_events(cur: Any, projection: Projection, events: Iterable[tuple[str, int, dict[str, Any]]]) -> int:
    """Apply (topic, partition, event) in order inside the caller's transaction; returns how many
    were new. The caller commits."""
    batch = [e for e in events if e[0] in projection.topics]
    if not batch:
        return 0
    batching = BatchingCursor(cur)
    applied = _apply(batching, projection, batch)
    batching.flush()
    return applied


def _apply(cur: Any, projection: Projection, batch: list[tuple[str, int, dict[str, Any]]]) -> int:
    ids = list({e[2]["aggregate_id"] for e in batch})
    cur.execute(
        "SELECT aggregate_id::text, version FROM projection_versions WHERE projection = %s AND aggregate_id = ANY(%s::uuid[]) FOR UPDATE",
        (projection.name, ids),
    )
    versions: dict[str, int] = dict(cur.fetchall())
    known = set(versions)
    positions: dict[tuple[str, int], tuple[int, str]] = {}
    gapped: set[tuple[str, int]] = set()
    applied = 0
    for topic, partition, event in batch:
        aggregate_id = event["aggregate_id"]
        tp = (topic, partition)
        current = versions.get(aggregate_id, 0)
        if event["version"] > current + 1:
            # An earlier event of this aggregate has not arrived (a broker that lost messages): wait for it.
            # The relay republishes the whole history in order in that case, so it will come, followed by
            # this one again. Applying now would make the guard drop the earlier one forever.
            log.warning("%s: %s version %d arrived before version %d; waiting for the history", projection.name,
                        aggregate_id, event["version"], current + 1)
            gapped.add(tp)
            continue
        if tp not in positions or positions[tp][0] < event["notification_id"]:
            positions[tp] = (event["notification_id"], event["occurred_at"])
        if event["version"] <= current:
            continue
        handler = projection.handlers.get(event_short_name(event))
        if handler is not None:
            handler(cur, event)
        versions[aggregate_id] = event["version"]
        applied += 1
    for tp in gapped:
        positions.pop(tp, None)
    rows = [(projection.name, a, v) for a, v in versions.items()]
    for name, aggregate_id, version in rows:
        if aggregate_id in known:
            cur.execute(
                "UPDATE projection_versions SET version = %s WHERE projection = %s AND aggregate_id = %s",
                (version, name, aggregate_id),
            )
        else:
            cur.execute(
                "INSERT INTO projection_versions (projection, aggregate_id, version) VALUES (%s, %s, %s) "
                "ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = greatest(projection_versions.version, EXCLUDED.version)",
                (name, aggregate_id, version),
            )
    for (topic, partition), (notification_id, occurred_at) in positions.items():
        cur.execute(
            "INSERT INTO projection_positions (projection, topic, partition, last_notification_id, last_event_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, topic, partition) DO UPDATE SET "
            "last_notification_id = greatest(projection_positions.last_notification_id, EXCLUDED.last_notification_id), "
            "last_event_at = EXCLUDED.last_event_at, updated_at = now()",
            (projection.name, topic, partition, notification_id, occurred_at),
        )
    return applied
