"""The hash chain's definition: one function, written once in SQL (migration 014) and once in Python, with the
same bytes hashed; and checkpoints as auditors hand them back."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from uuid import UUID

import pytest

from recur.commands.audit_chain import GENESIS, LINK_FUNCTION, StoredRow, link
from recur.commands.audit_checkpoints import Checkpoint, InvalidCheckpointError

MIGRATION = (resources.files("recur.migrations") / "014_audit_chain.sql").read_text()
EVENT = StoredRow(7, UUID("6f1c2a1e-8e4b-4a53-9d1f-2f8e1f0c3b10"), 3, "recur.domain.catalog:Plan.PlanRevised", b'{"name":"Yearly"}')


def between(text: str, begin: str, end: str) -> str:
    return text.split(begin, 1)[1].split(end, 1)[0]


def test_migration_014_creates_the_link_function_written_beside_the_python_one() -> None:
    written = between(MIGRATION, "-- BEGIN recur_audit_link (recur/commands/audit_chain.py: LINK_FUNCTION)\n", "-- END recur_audit_link")
    assert written == LINK_FUNCTION


def test_the_chain_starts_from_the_same_genesis_in_sql_and_in_python() -> None:
    literals = MIGRATION.count("'\\x" + GENESIS.hex() + "'")
    assert literals == 2, "the back-fill's initial state and the trigger's first link"


def test_each_stored_field_and_the_place_in_the_log_change_an_events_hash() -> None:
    chained = link(GENESIS, EVENT)
    variants = [
        replace(EVENT, notification_id=8),
        replace(EVENT, originator_id=UUID(int=EVENT.originator_id.int + 1)),
        replace(EVENT, originator_version=4),
        replace(EVENT, topic="recur.domain.catalog:Plan.PlanCreated"),
        replace(EVENT, state=b'{"name":"Yearly!"}'),
    ]
    assert len({chained, *(link(GENESIS, variant) for variant in variants)}) == 1 + len(variants)
    assert link(bytes.fromhex("01" * 32), EVENT) != chained, "the hash of the event before it is covered too"


def test_field_boundaries_are_unambiguous_and_a_missing_value_is_not_an_empty_one() -> None:
    moved = replace(EVENT, topic=EVENT.topic + "{", state=(EVENT.state or b"")[1:])  # the same bytes, split elsewhere
    assert link(GENESIS, moved) != link(GENESIS, EVENT)
    assert link(GENESIS, replace(EVENT, state=None)) != link(GENESIS, replace(EVENT, state=b""))
    assert link(GENESIS, replace(EVENT, topic=None)) != link(GENESIS, replace(EVENT, topic=""))


def test_a_published_checkpoint_reads_back_as_the_same_checkpoint() -> None:
    recorded = Checkpoint(41, "ab" * 32, datetime(2025, 3, 1, 12, tzinfo=UTC))
    published = json.dumps(recorded.message())

    assert json.loads(published) == {"notification_id": 41, "hash": "ab" * 32, "at": "2025-03-01T12:00:00+00:00"}
    assert Checkpoint.parse(published) == recorded
    assert Checkpoint.parse(f"41/{'AB' * 32}") == Checkpoint(41, "ab" * 32)


@pytest.mark.parametrize("given", [
    "", "41", "41/", f"x/{'ab' * 32}", f"0/{'ab' * 32}", f"²/{'ab' * 32}", f"{2**63}/{'ab' * 32}", "41/" + "ab" * 31,
    "41/" + "zz" * 32, "{", "[41]", json.dumps({"notification_id": True, "hash": "ab" * 32}),
    json.dumps({"notification_id": "41", "hash": "ab" * 32}), json.dumps({"hash": "ab" * 32}),
    json.dumps({"notification_id": 41, "hash": "ab" * 32, "at": "yesterday"}),
])
def test_what_is_not_a_checkpoint_is_refused_with_a_reason(given: str) -> None:
    with pytest.raises(InvalidCheckpointError):
        Checkpoint.parse(given)
