"""The event log's hash chain against a real PostgreSQL: chained as events are written (one save or several aggregates
at once, concurrent writers), recomputed by the auditor's verification, and every kind of tampering with stored
rows found at the event where it happened.

Each test has an event store of its own (audited_log.py) and tampers with it by raw SQL, as someone with access
to the database would."""

from __future__ import annotations

import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg2
import pytest
from audited_log import AuditedLog, open_audited_log

from recur.commands.audit_chain import GENESIS, StoredRow, link
from recur.commands.audit_checkpoints import Checkpoint, record_checkpoint
from recur.commands.event_store import ConcurrentModificationError
from recur.domain.catalog import Plan


@pytest.fixture
def event_log(postgres_server: Any) -> Iterator[AuditedLog]:
    audited = open_audited_log(postgres_server)
    yield audited
    audited.close()


def history_of_ten_events(event_log: AuditedLog) -> list[int]:
    """A producer, a product, four plans, two of them revised twice in one save: ten events."""
    plans = event_log.plans(4)
    event_log.revise_together(plans[:2])
    ids = event_log.ids()
    assert len(ids) == 10
    return ids


def test_every_event_is_chained_as_it_is_written_and_python_recomputes_the_same_hashes(event_log: AuditedLog) -> None:
    history_of_ten_events(event_log)

    previous = GENESIS
    for row in event_log.rows():
        assert row.chain_hash == link(previous, row), f"event {row.notification_id}"
        previous = link(previous, row)
    verification = event_log.verify()
    assert verification.ok
    assert verification.events_checked == 10
    assert verification.head is not None and verification.head.hash == previous.hex()


@pytest.mark.parametrize("row", [
    StoredRow(1, UUID(int=0), 1, "recur.domain.catalog:Product.ProductCreated", b'{"name":"Viol\xc3\xa3o"}'),
    StoredRow(2**63 - 1, UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"), 2**62, "t\u00f3pico \U0001f3b8", b"\x00\xff" * 300),
    StoredRow(5, UUID(int=5), 1, None, None),
    StoredRow(6, UUID(int=6), 1, "", b""),
])
def test_the_databases_link_function_and_the_python_one_agree_on_every_kind_of_value(event_log: AuditedLog, row: StoredRow) -> None:
    previous = bytes(range(32))
    [(computed,)] = event_log.sql("SELECT recur_audit_link(%s, %s, %s, %s, %s, %s)", (
        previous, row.notification_id, str(row.originator_id), row.originator_version, row.topic, row.state))

    assert bytes(computed) == link(previous, row)


def test_a_save_of_several_aggregates_chains_each_of_their_events_in_notification_order(event_log: AuditedLog) -> None:
    plans = event_log.plans(3)
    before = len(event_log.ids())

    event_log.revise_together(plans, times=3)  # one transaction, one INSERT of nine rows

    rows = event_log.rows()[before:]
    assert [(row.originator_id, row.originator_version) for row in rows] == [(plan.id, version) for plan in plans for version in (2, 3, 4)]
    assert event_log.verify().ok


def test_concurrent_writers_each_saving_several_aggregates_leave_one_unbroken_chain(event_log: AuditedLog) -> None:
    plans = event_log.plans(8)
    errors: list[BaseException] = []

    def writer(own: list[Any]) -> None:
        try:
            for _ in range(15):
                event_log.revise_together(own, times=1)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(plans[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    verification = event_log.verify()
    assert verification.ok
    assert verification.events_checked == 2 + 8 + 4 * 15 * 2


def test_a_save_refused_for_a_concurrent_change_leaves_a_gap_in_the_ids_that_is_not_a_break(event_log: AuditedLog) -> None:
    plan = event_log.plans(1)[0]
    stale = event_log.services.events.load(plan.id, Plan)
    plan.revise({"name": "Yearly"}, event_log.actor)
    event_log.services.events.store(plan)
    stale.revise({"name": "Weekly"}, event_log.actor)
    with pytest.raises(ConcurrentModificationError):
        event_log.services.events.store(stale)
    event_log.plans(1)

    ids = event_log.ids()
    assert ids != list(range(1, len(ids) + 1)), "the refused save consumed a notification id"
    assert event_log.verify().ok


def edit_state(event_log: AuditedLog, notification_id: int, old: str, new: str) -> None:
    """Replace text inside a stored event's state (JSON, UTF-8), as an UPDATE by hand would."""
    event_log.sql("UPDATE recur_events SET state = convert_to(replace(convert_from(state, 'UTF8'), %s, %s), 'UTF8') "
                  "WHERE notification_id = %s", (old, new, notification_id))
    assert new.encode() in next(row.state or b"" for row in event_log.rows() if row.notification_id == notification_id)


def test_an_edited_event_is_found_where_it_was_edited(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    edited = event_log.rows()[5]

    edit_state(event_log, edited.notification_id, "Monthly", "Yearly!")

    found = event_log.verify().first_break
    assert found is not None
    assert (found.notification_id, found.aggregate_id, found.version) == (ids[5], str(edited.originator_id), edited.originator_version)
    assert found.previous_notification_id == ids[4]


def test_an_event_given_another_type_is_found_where_it_was_changed(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)

    event_log.sql("UPDATE recur_events SET topic = replace(topic, 'PlanRevised', 'PlanCreated') WHERE notification_id = %s", (ids[8],))

    found = event_log.verify().first_break
    assert found is not None and found.notification_id == ids[8]


def test_a_deleted_event_is_found_at_the_event_after_it(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    after = event_log.rows()[7]

    event_log.sql("DELETE FROM recur_events WHERE notification_id = %s", (ids[6],))

    found = event_log.verify().first_break
    assert found is not None
    assert (found.notification_id, found.aggregate_id, found.version) == (ids[7], str(after.originator_id), after.originator_version)
    assert found.previous_notification_id == ids[5], "the jump over the deleted id shows where it was"


def history_with_a_gap(event_log: AuditedLog) -> tuple[list[int], int]:
    """Ten events and, after the fourth, a free notification id, as a save refused for a concurrent change leaves."""
    plans = event_log.plans(2)
    event_log.sql("SELECT nextval(pg_get_serial_sequence('recur_events', 'notification_id'))")
    event_log.plans(1)
    event_log.revise_together(plans)
    ids = event_log.ids()
    assert len(ids) == 10 and ids[4] == ids[3] + 2
    assert event_log.verify().ok
    return ids, ids[3] + 1


def test_an_event_cannot_be_inserted_between_two_others(event_log: AuditedLog) -> None:
    _, gap = history_with_a_gap(event_log)

    with pytest.raises(psycopg2.errors.RaiseException, match="appended to in notification order"):
        event_log.sql("INSERT INTO recur_events (originator_id, originator_version, topic, state, notification_id) "
                      "VALUES (gen_random_uuid(), 1, 'x', 'x', %s)", (gap,))


def insert_with_triggers_off(event_log: AuditedLog, row: StoredRow) -> None:
    """What the trigger refuses, done by someone who can switch triggers off (a superuser)."""
    event_log.sql(
        "SET session_replication_role = replica; "
        "INSERT INTO recur_events (notification_id, originator_id, originator_version, topic, state, chain_hash) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (row.notification_id, str(row.originator_id), row.originator_version, row.topic, row.state, row.chain_hash),
    )


INTRUDER = UUID("00000000-0000-4000-8000-000000000001")


def test_an_event_inserted_with_the_triggers_off_is_found_where_it_was_inserted(event_log: AuditedLog) -> None:
    _, gap = history_with_a_gap(event_log)

    insert_with_triggers_off(event_log, StoredRow(gap, INTRUDER, 1, "recur.domain.catalog:Product.ProductCreated", b"{}", bytes(32)))

    found = event_log.verify().first_break
    assert found is not None
    assert (found.notification_id, found.aggregate_id, found.version) == (gap, str(INTRUDER), 1)


def test_an_event_inserted_with_the_hash_its_predecessor_implies_is_found_at_the_event_after_it(event_log: AuditedLog) -> None:
    ids, gap = history_with_a_gap(event_log)
    before = event_log.rows()[3]
    forged = StoredRow(gap, INTRUDER, 1, "recur.domain.catalog:Product.ProductCreated", b'{"name":"Free"}')

    insert_with_triggers_off(event_log, replace(forged, chain_hash=link(before.chain_hash or GENESIS, forged)))

    found = event_log.verify().first_break
    assert found is not None
    assert (found.notification_id, found.previous_notification_id) == (ids[4], gap)


def test_two_swapped_events_are_found_at_the_first_of_them(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    second = event_log.rows()[6]

    event_log.sql("UPDATE recur_events SET notification_id = -1 WHERE notification_id = %(a)s; "
                  "UPDATE recur_events SET notification_id = %(a)s WHERE notification_id = %(b)s; "
                  "UPDATE recur_events SET notification_id = %(b)s WHERE notification_id = -1", {"a": ids[2], "b": ids[6]})

    found = event_log.verify().first_break
    assert found is not None
    assert (found.notification_id, found.aggregate_id, found.version) == (ids[2], str(second.originator_id), second.originator_version)


def test_verifying_from_an_event_takes_the_stored_hash_before_it_as_given(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    event_log.sql("UPDATE recur_events SET state = '{}' WHERE notification_id = %s", (ids[1],))

    assert event_log.verify().first_break is not None
    later = event_log.verify(start=ids[2])
    assert later.ok and later.events_checked == 8


def test_a_history_rewritten_with_every_hash_recomputed_holds_alone_but_not_against_an_older_checkpoint(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    early = Checkpoint(ids[2], event_log.rows()[2].chain_hash.hex())  # type: ignore[union-attr]
    taken = record_checkpoint(event_log.services.db)
    assert taken is not None and taken.notification_id == ids[-1]
    event_log.plans(1)

    # The rewrite: a plan's price edited at ids[5], then every hash from there recomputed, as someone who read the
    # definition could. The chain holds again; only a checkpoint kept elsewhere tells.
    edit_state(event_log, ids[5], "4990", "1990")
    event_log.sql("""
        UPDATE recur_events AS event SET chain_hash = chained.chain_hash
        FROM (SELECT notification_id, recur_audit_chain(notification_id, originator_id, originator_version, topic, state)
                     OVER (ORDER BY notification_id ROWS UNBOUNDED PRECEDING) AS chain_hash FROM recur_events) AS chained
        WHERE event.notification_id = chained.notification_id""")

    assert event_log.verify().ok
    checked = event_log.verify(checkpoints=[taken, early])
    assert not checked.ok
    assert checked.first_break is None
    assert [(check.checkpoint.notification_id, check.matches) for check in checked.checkpoints] == [(ids[2], True), (ids[-1], False)]
    assert "rewritten" in checked.checkpoints[1].found


def test_the_last_events_deleted_are_found_against_a_checkpoint_taken_before(event_log: AuditedLog) -> None:
    ids = history_of_ten_events(event_log)
    taken = record_checkpoint(event_log.services.db)
    assert taken is not None

    event_log.sql("DELETE FROM recur_events WHERE notification_id >= %s", (ids[8],))

    assert event_log.verify().ok, "no event is left after them to break"
    checked = event_log.verify(checkpoints=[taken])
    assert [check.matches for check in checked.checkpoints] == [False]
    assert checked.checkpoints[0].found == f"no event: the log ends at {ids[7]}"


def test_an_upgraded_database_chains_the_events_it_already_had_in_notification_order(postgres_server: Any, tmp_path: Any) -> None:
    """Migration 014 on a database with history: the back-fill gives the hashes the trigger would have given."""
    from importlib import resources

    from recur.commands.audit_verify import verify_chain
    from recur.commands.event_store import open_event_store
    from recur.db import Database, migrate
    from recur.embedded.postgres import create_database

    url = create_database(postgres_server.url, f"recur_audit_upgrade_{uuid.uuid4().hex[:8]}")
    before = tmp_path / "before"
    before.mkdir()
    for migration in resources.files("recur.migrations").iterdir():
        if migration.name.endswith(".sql") and migration.name < "014":
            (before / migration.name).write_text(migration.read_text())
    migrate(url, before)
    open_event_store(url, 1, create_table=True).close()
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO recur_events (originator_id, originator_version, topic, state) "
                    "SELECT gen_random_uuid(), 1, 'recur.domain.catalog:Product.ProductCreated', convert_to(n::text, 'UTF8') "
                    "FROM generate_series(1, 50) AS n")
        cur.execute("SELECT nextval(pg_get_serial_sequence('recur_events', 'notification_id'))")  # a failed save's gap
        cur.execute("INSERT INTO recur_events (originator_id, originator_version, topic, state) "
                    "VALUES (gen_random_uuid(), 1, 'recur.domain.catalog:Product.ProductCreated', 'late')")
    conn.close()

    migrate(url)
    db = Database(url, 1)
    try:
        upgraded = verify_chain(db)
        assert upgraded.ok and upgraded.events_checked == 51
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:  # and the trigger carries on from the back-filled head
            cur.execute("INSERT INTO recur_events (originator_id, originator_version, topic, state) "
                        "VALUES (gen_random_uuid(), 1, 't', 's')")
        conn.close()
        assert verify_chain(db).events_checked == 52 and verify_chain(db).ok
    finally:
        db.close()


def peak_memory_of_verifying(event_log: AuditedLog) -> tuple[int, int]:
    """(events checked, peak bytes Python allocated while verifying)."""
    tracemalloc.start()
    try:
        verification = event_log.verify()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verification.ok
    return verification.events_checked, peak


def test_verifying_streams_the_log_in_flat_memory_whatever_its_size(event_log: AuditedLog) -> None:
    event_log.bulk(10_000 - 1)  # the producer registered is the first event
    small, small_peak = peak_memory_of_verifying(event_log)

    event_log.bulk(90_000)
    large, large_peak = peak_memory_of_verifying(event_log)

    assert (small, large) == (10_000, 100_000)
    # Ten times the events, not ten times the memory: a batch of rows at a time (about 2000 x 400 bytes of state).
    assert large_peak < small_peak * 1.5, f"{small_peak} bytes for {small} events, {large_peak} bytes for {large}"
