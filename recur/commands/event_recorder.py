"""eventsourcing's PostgreSQL recorder, with the events of a save sent as four arrays (ids, versions, topics, states)
instead of one array of its composite type.

The library passes a save's events as `%s::stored_event_uuid[]`: psycopg 3 dumps a composite array in Python, in text,
and writes each event's JSON bytes as escaped hex (twice their size), which the server then parses back. Profiled, that
dump was a seventh of a billing run. Arrays of plain types (uuid[], bigint[], text[], bytea[]) are dumped by psycopg's
compiled dumpers, in binary, and `unnest` of the four zips them back into the same rows in the same order. The rows,
their notification ids and the hash chain (a row trigger, migration 014) are exactly what the library's statement makes;
the lock, the NOTIFY and the transaction around them are the library's own (`_insert_stored_events` of its
application recorder, which this replaces whole since its parent builds the composite array).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier


class ColumnarRecorder(PostgresApplicationRecorder):
    """Selected by `APPLICATION_RECORDER_TOPIC` (recur.commands.event_store.event_store_env)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(datastore.schema),
            table=Identifier(events_table_name),
            id_type=Identifier(datastore.originator_id_type),
        )

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.insert_events_statement,
            (
                [event.originator_id for event in stored_events],
                [event.originator_version for event in stored_events],
                [event.topic for event in stored_events],
                [event.state for event in stored_events],
            ),
        )
