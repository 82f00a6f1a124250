"""Events per second of a read-model rebuild from the event store.

recur: `build_aside` with every projection (recur.projections.registry.PROJECTIONS) over the same
history as the relay benchmark: pages of 2000 notifications decoded and encoded as public events,
then each projection applies them with its version guard, positions and its own rows, one
transaction per page. The aside schema is dropped afterwards.

baseline: the same notifications read with `select_notifications` in pages of the same size, and
one raw `INSERT ... ON CONFLICT DO UPDATE` per event into one plain table keyed by aggregate id,
one transaction per page: the least a projection must do.
"""

from __future__ import annotations

from typing import Any

import psycopg2

from bench.harness import Row, Stack, main, print_header, print_row, rate, result, scale
from bench.relay import EVENTS
from bench.workload import history_database

BASELINE = "select_notifications pages + one raw INSERT ... ON CONFLICT per event into one plain table"
UPSERT = (
    "INSERT INTO bench_rebuild_raw (aggregate_id, version, topic) VALUES (%s, %s, %s) "
    "ON CONFLICT (aggregate_id) DO UPDATE SET version = EXCLUDED.version, topic = EXCLUDED.topic"
)


def raw_rebuild(url: str, events: Any, page: int) -> int:
    """Read every notification and upsert one row per event; returns how many were applied."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_rebuild_raw")
            cur.execute("CREATE TABLE bench_rebuild_raw (aggregate_id uuid PRIMARY KEY, version integer NOT NULL, topic text NOT NULL)")
        applied, position = 0, 0
        while notifications := events.recorder.select_notifications(position + 1, page):
            with conn, conn.cursor() as cur:
                for n in notifications:
                    cur.execute(UPSERT, (str(n.originator_id), n.originator_version, n.topic))
            applied += len(notifications)
            position = notifications[-1].id
        return applied
    finally:
        conn.close()


def run(stack: Stack) -> dict[str, Any]:
    from bench.harness import event_store
    from recur.db import Database
    from recur.projections.rebuild import PAGE, build_aside, drop_aside, head
    from recur.projections.registry import PROJECTIONS

    url = history_database(stack, scale(EVENTS, 500))
    events = event_store(url, 2)
    db = Database(url, 2)
    try:
        n = head(db)
        built: list[tuple[str, int]] = []
        ours = rate(n, lambda: built.append(build_aside(db, events, list(PROJECTIONS.values()))))
        schema, last = built[0]
        rows = db.fetchone(f"SELECT count(*) FROM {schema}.rm_subscriptions")
        drop_aside(db, schema)
        assert last == n
        counted: list[int] = []
        base = rate(n, lambda: counted.append(raw_rebuild(url, events, PAGE)))
        assert counted[0] == n
    finally:
        events.close()
        db.close()
    print_header("rebuild: events applied per second (build_aside, all projections)", BASELINE)
    row = Row(f"build_aside, {len(PROJECTIONS)} projections, {n} events", ours, base)
    print_row(row)
    notes = [f"{n} events ({rows[0] if rows else '?'} subscriptions); projections: {', '.join(PROJECTIONS)}; pages of {PAGE}."]
    return result("rebuild", "Rebuild: events applied to read models per second", "events/s", BASELINE, [row], notes)


if __name__ == "__main__":
    main(run)
