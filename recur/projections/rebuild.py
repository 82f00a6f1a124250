"""Rebuild read models from the event store (not from Kafka, whose retention is finite).

The new tables are built aside, in their own schema, while the API and the live consumer keep
using the current ones. The swap then locks the live tables, applies the few events that arrived
meanwhile, and moves the new tables into place in one transaction. Readers never see a half-built
table, and the live consumer resumes on the new tables (its version guard drops repeats).

A rebuild meets poison events as the live consumer does: a page that fails is applied again event by
event, the events that fail block their aggregate, and the setbacks go to `on_setbacks` (the CLI keeps
them as dead letters). An event the encoder cannot encode is left out with the rest of its aggregate's
later events, as the relay leaves them out (see recur.consumers.relay).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from kafka.partitioner.default import murmur2

from recur.commands.event_store import RecurEvents
from recur.contract.encoding import EventEncoder, producer_lookup
from recur.contract.topics import PARTITIONS
from recur.db import Database, is_transient
from recur.projections.base import Delivery, Projection, Setback, apply_events

log = logging.getLogger(__name__)
PAGE = 2000
TRACKING = ["projection_versions", "projection_positions"]
OnSetbacks = Callable[[Any, list[Setback]], None]


def log_setbacks(cur: Any, setbacks: list[Setback]) -> None:
    for s in setbacks:
        log.warning("%s: %s version %d not applied (%s)", s.projection, s.event["aggregate_id"], s.event["version"],
                    "held behind a failed event" if s.held else f"{type(s.error).__name__}: {s.error}")


def partition_of(key: bytes, partitions: int = PARTITIONS) -> int:
    """The partition Kafka's default partitioner gives a key, so rebuilt positions match the relay's."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def event_pages(events: RecurEvents, start: int, stop: int | None = None) -> Iterator[list[Delivery]]:
    encoder = EventEncoder(events.mapper, producer_lookup(events.recorder, events.mapper))
    unencodable: set[Any] = set()  # aggregates with an event the encoder refused: the relay holds their rest too
    position = start
    while True:
        notifications = events.recorder.select_notifications(position + 1, PAGE, stop=stop)
        if not notifications:
            return
        page = []
        for n in notifications:
            if n.originator_id in unencodable:
                continue
            try:
                public = encoder.encode(n)
            except Exception as error:
                if is_transient(error):
                    raise
                log.warning("notification %d cannot be encoded (%s: %s): left out with its aggregate's later events",
                            n.id, type(error).__name__, error)
                unencodable.add(n.originator_id)
                continue
            page.append((public.topic, partition_of(public.key), public.body))
        position = notifications[-1].id
        yield page


def head(db: Database) -> int:
    row = db.fetchone("SELECT coalesce(max(notification_id), 0) FROM recur_events")
    return int(row[0]) if row else 0


def build_aside(
    db: Database,
    events: RecurEvents,
    projections: list[Projection],
    progress: Callable[[int], None] = lambda n: None,
    on_setbacks: OnSetbacks = log_setbacks,
) -> tuple[str, int]:
    """Build the projections' tables in a new schema from the whole history; returns (schema, last id)."""
    schema = f"rebuild_{uuid.uuid4().hex[:10]}"
    with db.transaction() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
        for table in [t for p in projections for t in p.tables] + TRACKING:
            cur.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    last = head(db)
    _apply_range(db, events, projections, schema, 0, last, progress, on_setbacks)
    return schema, last


def _apply_range(
    db: Database,
    events: RecurEvents,
    projections: list[Projection],
    schema: str,
    start: int,
    stop: int | None,
    progress: Callable[[int], None],
    on_setbacks: OnSetbacks,
    cur: Any = None,
) -> None:
    for page in event_pages(events, start, stop):
        if cur is None:
            with db.transaction() as own:
                _apply_page(own, projections, schema, page, on_setbacks)
        else:
            _apply_page(cur, projections, schema, page, on_setbacks)
        progress(len(page))


def _apply_page(cur: Any, projections: list[Projection], schema: str, page: list[Delivery], on_setbacks: OnSetbacks) -> None:
    cur.execute(f"SET LOCAL search_path TO {schema}, public")
    cur.execute("SAVEPOINT recur_page")
    try:
        outcomes = [apply_events(cur, projection, page) for projection in projections]
    except Exception as error:
        if is_transient(error):
            raise
        cur.execute("ROLLBACK TO SAVEPOINT recur_page")
        outcomes = [apply_events(cur, projection, page, isolate=True) for projection in projections]
    cur.execute("RELEASE SAVEPOINT recur_page")
    setbacks = [s for outcome in outcomes for s in outcome.setbacks]
    if setbacks:
        on_setbacks(cur, setbacks)
    cur.execute("SET LOCAL search_path TO public")


def swap_in(
    db: Database, events: RecurEvents, projections: list[Projection], schema: str, built_until: int, on_setbacks: OnSetbacks = log_setbacks
) -> None:
    """Lock the live tables, catch the aside tables up, and move them into place atomically."""
    names = [p.name for p in projections]
    with db.transaction() as cur:
        for table in [t for p in projections for t in p.tables]:
            cur.execute(f"LOCK TABLE public.{table} IN ACCESS EXCLUSIVE MODE")
        cur.execute("LOCK TABLE public.projection_versions IN SHARE ROW EXCLUSIVE MODE")
        _apply_range(db, events, projections, schema, built_until, None, lambda n: None, on_setbacks, cur)
        for table in [t for p in projections for t in p.tables]:
            cur.execute(f"DROP TABLE public.{table}")
            cur.execute(f"ALTER TABLE {schema}.{table} SET SCHEMA public")
        for table in TRACKING:
            cur.execute(f"DELETE FROM public.{table} WHERE projection = ANY(%s)", (names,))
            cur.execute(f"INSERT INTO public.{table} SELECT * FROM {schema}.{table} WHERE projection = ANY(%s)", (names,))
        cur.execute(f"DROP SCHEMA {schema} CASCADE")


def rebuild(
    db: Database,
    events: RecurEvents,
    projections: list[Projection],
    progress: Callable[[int], None] = lambda n: None,
    on_setbacks: OnSetbacks = log_setbacks,
) -> int:
    """Rebuild and swap in; returns the number of events replayed before the swap."""
    schema, last = build_aside(db, events, projections, progress, on_setbacks)
    swap_in(db, events, projections, schema, last, on_setbacks)
    log.info("rebuilt %s from %d events", ", ".join(p.name for p in projections), last)
    return last


def drop_aside(db: Database, schema: str) -> None:
    db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def differences(db: Database, events: RecurEvents, projections: list[Projection]) -> dict[str, int]:
    """Rows that differ between each live table and a fresh rebuild of it (0 everywhere = equal).

    The caller makes sure the live read models have caught up first.
    """
    schema, _ = build_aside(db, events, projections)
    try:
        result = {}
        for table in [t for p in projections for t in p.tables]:
            row = db.fetchone(
                f"SELECT (SELECT count(*) FROM (SELECT * FROM public.{table} EXCEPT SELECT * FROM {schema}.{table}) a) + "
                f"(SELECT count(*) FROM (SELECT * FROM {schema}.{table} EXCEPT SELECT * FROM public.{table}) b)"
            )
            result[table] = int(row[0]) if row else -1
        return result
    finally:
        drop_aside(db, schema)
