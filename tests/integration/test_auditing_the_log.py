"""The auditor's side of the tamper-evident log, end to end against real PostgreSQL and the real broker: checkpoints
recorded by the scheduler's pass and published on recur.audit.v1, and checked back by `recur audit verify` and
`GET /v1/audit/verify`; a rewritten history found against an old checkpoint."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from audited_log import AuditedLog, open_audited_log
from click.testing import Result

from recur.commands.audit_checkpoints import Checkpoint, unpublished_count
from recur.consumers.audit_topic import AuditTopic
from recur.contract.audit import KEY
from recur.contract.topics import AUDIT, PARTITIONS
from recur.workers import Checkpointing

ADMIN = "adm_integration"


@pytest.fixture
def event_log(postgres_server: Any) -> Iterator[AuditedLog]:
    audited = open_audited_log(postgres_server)
    yield audited
    audited.close()


def published_checkpoints(bootstrap: str, wanted: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The messages on recur.audit.v1 (from every test of the session), read until `wanted` holds of them or 15 s passed."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(AUDIT, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while not wanted(found) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                found.extend({"key": r.key.decode(), **json.loads(r.value)} for r in records)
        return found
    finally:
        consumer.close()


def of(log_checkpoints: list[Checkpoint]) -> Callable[[list[dict[str, Any]]], bool]:
    hashes = {checkpoint.hash for checkpoint in log_checkpoints}
    return lambda found: hashes <= {message["hash"] for message in found}


def recorded(event_log: AuditedLog) -> list[Checkpoint]:
    return [Checkpoint(int(nid), bytes(digest).hex(), at)
            for nid, digest, at in event_log.sql("SELECT notification_id, chain_hash, at FROM audit_checkpoints ORDER BY 1")]


def test_the_scheduler_checkpoints_the_head_at_start_every_period_and_at_stop_and_publishes_each(event_log: AuditedLog,
                                                                                                 broker: Any) -> None:
    topic = AuditTopic(event_log.services.db, broker.bootstrap_servers)
    checkpointing = Checkpointing(event_log.services.db, topic, every=3600)
    try:
        event_log.plans(2)
        checkpointing.run_when_due()  # the first pass after a start
        event_log.plans(1)
        checkpointing.run_when_due()  # within the hour: nothing
        assert [c.notification_id for c in recorded(event_log)] == [4]

        checkpointing.record()  # as the scheduler stops
        checkpointing.record()  # the head did not move: no second checkpoint of it
    finally:
        topic.close()

    checkpoints = recorded(event_log)
    assert [c.notification_id for c in checkpoints] == [4, 6]
    assert unpublished_count(event_log.services.db) == 0
    messages = [m for m in published_checkpoints(broker.bootstrap_servers, of(checkpoints)) if m["hash"] in {c.hash for c in checkpoints}]
    assert messages == [{"key": KEY, **c.message()} for c in checkpoints]
    assert event_log.verify(checkpoints=[Checkpoint.parse(json.dumps(m)) for m in messages]).ok


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_checkpoint_the_broker_did_not_take_stays_recorded_and_goes_out_later(event_log: AuditedLog, broker: Any,
                                                                                recur_cli: Callable[..., Result]) -> None:
    away = AuditTopic(event_log.services.db, closed_port())
    try:
        Checkpointing(event_log.services.db, away).run_when_due()
    finally:
        away.close()
    assert away.behind
    assert unpublished_count(event_log.services.db) == 1

    event_log.plans(1)
    result = recur_cli("audit", "checkpoint",
                       env={"RECUR_DATABASE_URL": event_log.url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == recorded(event_log)[-1].message()
    assert unpublished_count(event_log.services.db) == 0
    checkpoints = recorded(event_log)
    messages = [m for m in published_checkpoints(broker.bootstrap_servers, of(checkpoints)) if m["hash"] in {c.hash for c in checkpoints}]
    assert [m["notification_id"] for m in messages] == [1, 3], "the older one first"


def audit_cli(recur_cli: Callable[..., Result], event_log: AuditedLog, *args: str) -> Result:
    return recur_cli("audit", *args, env={"RECUR_DATABASE_URL": event_log.url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": ""})


def test_recur_audit_verify_says_the_chain_holds_or_where_it_breaks_with_its_exit_code(event_log: AuditedLog,
                                                                                      recur_cli: Callable[..., Result]) -> None:
    plans = event_log.plans(3)
    held = audit_cli(recur_cli, event_log, "verify")
    assert held.exit_code == 0, held.output
    assert "the chain holds: 5 events checked, head 5 " in held.stdout

    event_log.sql("DELETE FROM recur_events WHERE notification_id = 3")
    broken = audit_cli(recur_cli, event_log, "verify")

    assert broken.exit_code == 1
    assert f"the chain breaks at notification id 4: aggregate {plans[1].id} version 1 (the last event that verified is 2)" in broken.stdout
    assert audit_cli(recur_cli, event_log, "verify", "--from", "4").exit_code == 1, "linked to the event before it, the 2nd"
    assert audit_cli(recur_cli, event_log, "verify", "--from", "5").exit_code == 0


def test_recur_audit_verify_proves_an_old_checkpoint_and_fails_it_once_the_history_before_it_is_rewritten(
    event_log: AuditedLog, recur_cli: Callable[..., Result]
) -> None:
    event_log.plans(3)
    taken = audit_cli(recur_cli, event_log, "checkpoint")  # no broker given: recorded, not published (exit code 1)
    assert taken.exit_code == 1 and "not published" in taken.stderr
    checkpoint = taken.stdout.strip()
    event_log.plans(2)
    assert audit_cli(recur_cli, event_log, "verify", "--checkpoint", checkpoint).exit_code == 0

    # A plan's price rewritten before the checkpoint, and every hash after it recomputed.
    event_log.sql("UPDATE recur_events SET state = convert_to(replace(convert_from(state, 'UTF8'), '4990', '490'), 'UTF8') "
                  "WHERE notification_id = 4")
    event_log.sql("""
        UPDATE recur_events AS event SET chain_hash = chained.chain_hash
        FROM (SELECT notification_id, recur_audit_chain(notification_id, originator_id, originator_version, topic, state)
                     OVER (ORDER BY notification_id ROWS UNBOUNDED PRECEDING) AS chain_hash FROM recur_events) AS chained
        WHERE event.notification_id = chained.notification_id""")
    assert audit_cli(recur_cli, event_log, "verify").exit_code == 0, "the chain alone holds"

    found = audit_cli(recur_cli, event_log, "verify", "--checkpoint", checkpoint)
    assert found.exit_code == 1
    assert f"checkpoint 5/{json.loads(checkpoint)['hash']} DOES NOT MATCH: the chain hash is " in found.stdout
    assert "the history up to it was rewritten" in found.stdout


@pytest.mark.parametrize("args", [["--checkpoint", "5/not-a-hash"], ["--checkpoint", "{"], ["--from", "0"], ["--from", "x"],
                                  ["--from", "4", "--checkpoint", "3/" + "ab" * 32]])
def test_recur_audit_verify_refuses_what_it_cannot_check_with_exit_code_2(event_log: AuditedLog, recur_cli: Callable[..., Result],
                                                                          args: list[str]) -> None:
    event_log.plans(3)
    assert audit_cli(recur_cli, event_log, "verify", *args).exit_code == 2


@pytest.fixture
def audit_api(event_log: AuditedLog) -> Any:
    """The API of recur over the audited event store, as the admin calls it."""
    from recur_api import Api, flask_call

    from recur.bootstrap import build_services
    from recur.http.app import create_app
    from recur.settings import Settings

    services = build_services(Settings.from_env({"RECUR_DATABASE_URL": event_log.url, "RECUR_ADMIN_TOKEN": ADMIN}), event_log.url, 2)
    yield Api(flask_call(create_app(services).test_client()), ADMIN)
    services.close()


def test_the_admin_verifies_the_chain_over_http_and_learns_where_it_breaks(event_log: AuditedLog, audit_api: Any) -> None:
    plans = event_log.plans(3)
    held = audit_api.get("/v1/audit/verify")
    head_hash = held["head"]["hash"]
    assert held == {"events_checked": 5, "head": {"notification_id": 5, "hash": head_hash}, "ok": True, "first_break": None,
                    "checkpoints": []}

    event_log.sql("UPDATE recur_events SET topic = topic || 'x' WHERE notification_id = 4")
    broken = audit_api.get("/v1/audit/verify")

    assert broken["ok"] is False
    assert broken["first_break"] == {"notification_id": 4, "aggregate_id": str(plans[1].id), "version": 1, "previous_notification_id": 3}
    assert broken["events_checked"] == 4 and broken["head"]["notification_id"] == 3
    assert audit_api.get("/v1/audit/verify?from=5")["ok"] is True


def test_the_admin_checks_a_checkpoint_over_http(event_log: AuditedLog, audit_api: Any) -> None:
    event_log.plans(3)
    head = audit_api.get("/v1/audit/verify")["head"]
    event_log.plans(1)

    checked = audit_api.get(f"/v1/audit/verify?checkpoint={head['notification_id']}/{head['hash']}")
    wrong = audit_api.get(f"/v1/audit/verify?checkpoint={quote(json.dumps({'notification_id': 5, 'hash': 'ab' * 32}))}")

    assert checked["ok"] is True
    assert checked["checkpoints"] == [{"checkpoint": {**head, "at": None}, "matches": True, "found": "the same chain hash"}]
    assert wrong["ok"] is False and wrong["first_break"] is None and wrong["checkpoints"][0]["matches"] is False


def test_verifying_over_http_is_for_the_admin_only_and_its_parameters_are_checked(event_log: AuditedLog, audit_api: Any,
                                                                                 api: Any, producer: Any) -> None:
    event_log.plans(1)
    producer.get("/v1/audit/verify", expect=404)
    api.get("/v1/audit/verify", expect=401)
    for query in ("from=0", "from=x", f"from={2**63}", "checkpoint=3/zz", "checkpoint=%7B", f"from=3&checkpoint=2/{'ab' * 32}"):
        assert audit_api.request("GET", f"/v1/audit/verify?{query}", expect=422)["errors"], query


def test_every_event_the_test_sessions_recur_stored_is_chained(admin: Any) -> None:
    """The shared event store, written by every other test through the API, the billing runs and the sandbox clock."""
    admin.post("/v1/producers", {"name": "Audited", "email": "audit@example.com"}, expect=201)

    verification = admin.get("/v1/audit/verify")

    assert verification["ok"] is True and verification["first_break"] is None
    assert verification["events_checked"] >= 1
