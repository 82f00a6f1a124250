"""How far the read models are behind the event store, in events and seconds.

Positions are event-store notification ids, not broker offsets: the relay records the last id it
published to each partition, each projection the last id it applied from each partition. Both
survive a broker that restarts empty.
"""

from __future__ import annotations

import time
from typing import Any

from recur.db import Database
from recur.projections.registry import PROJECTIONS


def lag(db: Database) -> dict[str, dict[str, Any]]:
    """Per projection: events behind (relay and projection together) and seconds behind."""
    head = db.fetchone("SELECT coalesce(max(notification_id), 0) FROM recur_events")
    relay = db.fetchone("SELECT notification_id FROM relay_position WHERE name = 'relay'")
    head_id = int(head[0]) if head else 0
    relay_id = int(relay[0]) if relay else 0
    report: dict[str, dict[str, Any]] = {}
    for name, projection in PROJECTIONS.items():
        rows = db.fetchall(
            "SELECT r.topic, r.partition, r.last_notification_id, coalesce(p.last_notification_id, 0) "
            "FROM relay_partitions r LEFT JOIN projection_positions p ON p.topic = r.topic AND p.partition = r.partition "
            "AND p.projection = %s WHERE r.topic = ANY(%s)",
            (name, projection.topics),
        )
        behind = [r for r in rows if r[3] < r[2]]
        low = min([r[3] for r in behind] + [relay_id])
        count = db.fetchone("SELECT count(*) FROM recur_events WHERE notification_id > %s", (low,))
        events_behind = int(count[0]) if count and (behind or relay_id < head_id) else 0
        report[name] = {
            "events_behind": events_behind,
            "seconds_behind": _seconds_behind(db, name) if events_behind else 0.0,
            "relay_behind": head_id - relay_id,
        }
    return report


def _seconds_behind(db: Database, projection: str) -> float:
    row = db.fetchone("SELECT extract(epoch from now() - min(updated_at)) FROM projection_positions WHERE projection = %s", (projection,))
    return float(row[0]) if row and row[0] is not None else 0.0


def caught_up(db: Database) -> bool:
    head = db.fetchone("SELECT coalesce(max(notification_id), 0) FROM recur_events")
    relay = db.fetchone("SELECT notification_id FROM relay_position WHERE name = 'relay'")
    if (int(relay[0]) if relay else 0) < (int(head[0]) if head else 0):
        return False
    for name, projection in PROJECTIONS.items():
        row = db.fetchone(
            "SELECT count(*) FROM relay_partitions r LEFT JOIN projection_positions p ON p.topic = r.topic "
            "AND p.partition = r.partition AND p.projection = %s WHERE r.topic = ANY(%s) "
            "AND coalesce(p.last_notification_id, 0) < r.last_notification_id",
            (name, projection.topics),
        )
        if row and row[0] > 0:
            return False
    return True


def wait_until_caught_up(db: Database, timeout: float = 30.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not caught_up(db):
        if time.monotonic() > deadline:
            raise TimeoutError("read models did not catch up in time: is the relay and consumer running? (`recur projections status`)")
        time.sleep(interval)
