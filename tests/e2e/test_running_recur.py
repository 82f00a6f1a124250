"""recur up, driven from outside as producers and downstream services would."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import yaml
from asyncapi_validation import MessageChecker
from recur_api import Api, http_call
from recur_process import ADMIN, RecurProcess

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_runtime_json_says_where_everything_is(recur_up: RecurProcess) -> None:
    runtime = recur_up.runtime
    assert runtime is not None
    assert runtime["api_url"] == recur_up.url
    assert runtime["pid"] == recur_up.process.pid  # type: ignore[union-attr]
    with psycopg2.connect(runtime["database_url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
    assert ":" in runtime["kafka_bootstrap_servers"]


def test_without_recur_smtp_url_mail_goes_to_a_local_sink_that_the_sandbox_outbox_lists(recur_up: RecurProcess) -> None:
    from recur.notifications.smtp import SmtpTransport

    runtime = recur_up.runtime
    assert runtime is not None and runtime["smtp_url"].startswith("smtp://127.0.0.1:")
    assert f"local SMTP sink at {runtime['smtp_url']}; the sandbox outbox lists what it receives" in \
        recur_up.log_path.read_text(errors="replace")
    to = f"bia.{uuid.uuid4().hex[:8]}@example.com"
    with SmtpTransport(runtime["smtp_url"]) as transport:
        transport.send("recur <no-reply@recur.test>", to, b"Subject: Pago\r\nX-Recur-Kind: payment_receipt\r\n\r\nObrigado.\r\n")
    items = Api(http_call(recur_up.url), ADMIN).get(f"/v1/sandbox/outbox/emails?to={to}")["items"]
    assert [(item["kind"], item["subject"], item["to"]) for item in items] == [("payment_receipt", "Pago", [to])]
    assert to not in recur_up.log_path.read_text(errors="replace")  # nothing logs an address


def test_the_readme_sequence_gives_an_active_subscription_listed_within_a_second(recur_up: RecurProcess) -> None:
    producer = Api(http_call(recur_up.url)).new_producer(ADMIN)
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"])
    assert sub["status"] == "active"
    started = time.monotonic()
    listed = wait_for(lambda: [i for i in producer.get("/v1/subscriptions")["items"] if i["status"] == "active"], timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert [i["id"] for i in listed] == [sub["id"]]


def test_a_downstream_service_reads_ordered_cloudevents_keyed_by_subscription(recur_up: RecurProcess) -> None:
    from kafka import KafkaConsumer, TopicPartition

    producer = Api(http_call(recur_up.url)).new_producer(ADMIN)
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"], producer.card("4000000000009995"))
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "changed my mind"})
    history = producer.get(f"/v1/subscriptions/{sub['id']}/events")["items"]
    expected_versions = len(history)

    consumer = KafkaConsumer(
        bootstrap_servers=recur_up.runtime["kafka_bootstrap_servers"],  # type: ignore[index]
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
    )
    partitions = [TopicPartition("recur.subscriptions.v1", p) for p in consumer.partitions_for_topic("recur.subscriptions.v1")]
    consumer.assign(partitions)
    consumer.seek_to_beginning()

    def mine() -> list[Any]:
        return [m for m in consumer if m.key == sub["id"].encode()]

    messages: list[Any] = []
    deadline = time.monotonic() + 10
    while len(messages) < expected_versions and time.monotonic() < deadline:
        messages += mine()
    consumer.close()
    assert len({m.partition for m in messages}) == 1, "one subscription's events share one partition"
    bodies = [json.loads(m.value) for m in messages]
    assert [b["version"] for b in bodies] == list(range(1, expected_versions + 1))
    headers = dict(messages[0].headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"recur.subscription.SubscriptionStarted"
    assert headers["ce_subject"] == sub["id"].encode()
    assert {"ce_id", "ce_source", "ce_time"} <= set(headers)
    names = [b["type"].rsplit(".", 1)[-1] for b in bodies]
    assert names[0] == "SubscriptionStarted" and "ChargeFailed" in names and names[-1] in ("Cancelled", "Rescheduled")
    assert all(b["subscription_id"] == sub["id"] and b["producer_id"] == sub["producer_id"] for b in bodies)
    assert "token" not in bodies[0]["data"]["payment_method"]

    # Each message is what the committed AsyncAPI document promises, and the audit trail shows the same data.
    checker = MessageChecker(yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")))
    for message, body in zip(messages, bodies, strict=True):
        name = body["type"].rsplit(".", 1)[-1]
        assert checker.problems(name, "payload", body) == [], name
        assert checker.problems(name, "headers", {k: v.decode() for k, v in message.headers}) == [], name
    assert [(h["type"], h["occurred_at"], h["data"]) for h in history] == [
        (b["type"], b["occurred_at"], b["data"]) for b in bodies[: len(history)]
    ]


def test_bad_input_never_yields_a_500(recur_up: RecurProcess) -> None:
    producer = Api(http_call(recur_up.url)).new_producer(ADMIN)
    plan = producer.new_plan()
    bad_bodies: list[Any] = [
        None,
        [],
        "x",
        3,
        {"plan_id": "not-a-uuid"},
        {"plan_id": plan["id"], "subscriber": "x"},
        {"plan_id": plan["id"], "subscriber": {"name": "a", "email": "a@b.co"}, "payment_method": {"type": "pix"}},
    ]
    for body in bad_bodies:
        status, problem = producer.call("POST", "/v1/subscriptions", body, {"Authorization": f"Bearer {producer.token}"})
        assert status in (400, 422), (body, status, problem)
        assert problem["detail"]
    status, _ = producer.call("GET", "/v1/subscriptions/not-a-uuid", None, {"Authorization": f"Bearer {producer.token}"})
    assert status == 404


def test_restarting_on_the_same_data_dir_keeps_everything_and_read_models_equal_a_rebuild(recur_up: RecurProcess) -> None:
    from recur.commands.event_store import open_event_store
    from recur.db import Database
    from recur.projections.lag import wait_until_caught_up
    from recur.projections.rebuild import differences
    from recur.projections.registry import PROJECTIONS
    from recur.sealing import MasterKey

    producer = Api(http_call(recur_up.url)).new_producer(ADMIN)
    plan = producer.new_plan()
    subs = [producer.subscribe(plan["id"]) for _ in range(3)]
    # Every event of theirs applied, not only listed (an item is listed before its charge and rescheduling arrive).
    assert recur_up.runtime is not None
    live = Database(recur_up.runtime["database_url"], 1)
    try:
        wait_until_caught_up(live, timeout=60)
    finally:
        live.close()
    before = producer.get("/v1/subscriptions")["items"]
    assert len(before) == 3

    children = recur_up.descendants()
    assert recur_up.stop(signal.SIGTERM) == 0
    wait_for(lambda: not [pid for pid in children if _alive(pid)], timeout=10)  # children exit as their parent does

    runtime = recur_up.start()
    # The broker came back empty: the relay republishes the whole session's history first (a minute on a busy machine).
    wait_for(lambda: producer.get("/v1/subscriptions")["items"] == before, timeout=90)
    assert producer.get(f"/v1/plans/{plan['id']}")["id"] == plan["id"]
    assert producer.get(f"/v1/subscriptions/{subs[0]['id']}")["status"] == "active"
    db = Database(runtime["database_url"], 1)
    # The events hold subscribers' personal data encrypted: reading them needs the master key `recur up` made.
    events = open_event_store(runtime["database_url"], 1, master_key=MasterKey.from_setting((recur_up.data_dir / "master.key").read_text()))
    try:
        wait_until_caught_up(db, timeout=30)
        assert set(differences(db, events, list(PROJECTIONS.values())).values()) == {0}
        assert db.fetchone("SELECT count(*) FROM rm_subscriptions WHERE producer_id = %s", (subs[0]["producer_id"],)) == (3,)
    finally:
        db.close()
        events.close()


def test_metrics_add_up_the_requests_of_every_api_worker(recur_up: RecurProcess) -> None:
    import requests

    for _ in range(12):
        assert requests.get(recur_up.url + "/healthz", timeout=10).status_code == 200
    text = requests.get(recur_up.url + "/metrics", timeout=10).text
    counted = [line for line in text.splitlines() if line.startswith("recur_http_requests_total") and 'route="/healthz"' in line]
    assert counted and sum(float(line.rsplit(" ", 1)[1]) for line in counted) >= 12
    assert "recur_event_store_head" in text


def test_recur_up_runs_as_many_api_workers_and_billing_schedulers_as_asked(recur_up: RecurProcess) -> None:
    processes = {pid: psutil.Process(pid) for pid in recur_up.descendants()}
    schedulers = [pid for pid, process in processes.items() if process.cmdline()[-2:] == ["worker", "scheduler"]]
    gunicorn = [pid for pid, process in processes.items() if "gunicorn" in process.cmdline()]
    api_workers = [pid for pid in gunicorn if processes[pid].ppid() in gunicorn]  # gunicorn's arbiter forks its workers
    assert len(schedulers) == recur_up.schedulers == 2
    assert len(api_workers) == recur_up.api_workers == 2
