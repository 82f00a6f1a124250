"""How far the read models are behind the event store, in events and seconds.

Positions are event-store notification ids, not broker offsets: the relay records the last id it
published to each partition, each projection the last id it applied from each partition. Both
survive a broker that restarts empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from recur.db import Database
from recur.projections.base import Projection
from recur.projections.registry import CONSUMED

STUCK_AFTER = 30.0  # seconds a projection may stay behind at the same position before it counts as stuck


@dataclass(frozen=True)
class Lag:
    events_behind: int  # relay and projection together
    seconds_behind: float  # since the projection last applied anything (0 when caught up)
    relay_behind: int  # events stored but not yet published
    position: int | None  # the lowest notification id it is behind at (None when caught up): moves while it works

    @property
    def behind(self) -> bool:
        return self.events_behind > 0


def _head_and_relay(db: Database) -> tuple[int, int]:
    row = db.fetchone(
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM recur_events), "
        "(SELECT coalesce(max(notification_id), 0) FROM relay_position WHERE name = 'relay')"
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _lagging_partitions(db: Database, consumed: Mapping[str, Projection] = CONSUMED) -> dict[str, list[int]]:
    """Per projection, the positions it holds on partitions where the relay published more."""
    pairs = [(name, topic) for name, p in consumed.items() for topic in p.topics]
    rows = db.fetchall(
        "SELECT n.projection, coalesce(p.last_notification_id, 0) FROM unnest(%s::text[], %s::text[]) AS n(projection, topic) "
        "JOIN relay_partitions r ON r.topic = n.topic LEFT JOIN projection_positions p ON p.projection = n.projection "
        "AND p.topic = r.topic AND p.partition = r.partition WHERE coalesce(p.last_notification_id, 0) < r.last_notification_id",
        ([name for name, _ in pairs], [topic for _, topic in pairs]),
    )
    lagging: dict[str, list[int]] = {}
    for name, position in rows:
        lagging.setdefault(name, []).append(int(position))
    return lagging


def caught_up(db: Database, consumed: Mapping[str, Projection] = CONSUMED) -> bool:
    """Whether the relay published every stored event and every projection of `consumed` (by default all,
    the notifier included) applied everything published to it."""
    head, relay = _head_and_relay(db)
    return relay >= head and not _lagging_partitions(db, consumed)


def lag(db: Database) -> dict[str, Lag]:
    """Per projection: events behind (relay and projection together) and seconds since it last applied."""
    head, relay = _head_and_relay(db)
    lagging = _lagging_partitions(db)
    report: dict[str, Lag] = {}
    for name in CONSUMED:
        behind = lagging.get(name, [])
        events_behind, low = 0, None
        if behind or relay < head:
            low = min([*behind, relay])
            row = db.fetchone("SELECT count(*) FROM recur_events WHERE notification_id > %s", (low,))
            events_behind = int(row[0]) if row else 0
        seconds = _seconds_since_applied(db, name) if events_behind else 0.0
        report[name] = Lag(events_behind, seconds, head - relay, low if events_behind else None)
    return report


class StallWatch:
    """Tells "behind and working" from "behind and stuck": a projection is stuck when it has stayed behind
    at the same position for `after` seconds, across the observations this watch was given (readiness
    probes). A busy projection moves its position however far behind it is; an idle one is not behind."""

    def __init__(self, after: float = STUCK_AFTER, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self.clock = clock
        self.since: dict[str, tuple[int, float]] = {}  # projection -> (position it was behind at, first seen there)

    def stuck(self, report: dict[str, Lag]) -> dict[str, float]:
        """Projections stuck now, with the seconds they have not moved for."""
        now = self.clock()
        stuck: dict[str, float] = {}
        for name, figures in report.items():
            if figures.position is None:
                self.since.pop(name, None)
                continue
            position, first_seen = self.since.get(name, (figures.position, now))
            if position != figures.position:
                first_seen = now
            self.since[name] = (figures.position, first_seen)
            if now - first_seen >= self.after:
                stuck[name] = now - first_seen
        return stuck


def _seconds_since_applied(db: Database, projection: str) -> float:
    row = db.fetchone("SELECT extract(epoch from now() - max(updated_at)) FROM projection_positions WHERE projection = %s", (projection,))
    return float(row[0]) if row and row[0] is not None else 0.0


def wait_until_caught_up(db: Database, timeout: float = 30.0, interval: float = 0.02,
                         consumed: Mapping[str, Projection] = CONSUMED) -> None:
    deadline = time.monotonic() + timeout
    while not caught_up(db, consumed):
        if time.monotonic() > deadline:
            raise TimeoutError("read models did not catch up in time: are the relay and consumer running? (`recur projections status`)")
        time.sleep(interval)
