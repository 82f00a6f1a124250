"""Faults answered fast: a paused database or a stopped broker gets prompt 503s with Retry-After, and
once it is back everything sent meanwhile is there, nothing twice.

The database is paused with SIGSTOP (every PostgreSQL process of a server of this test's own): its
sockets stay open and its kernel keeps accepting, which is what a wedged host looks like, and what
no server-side timeout can catch.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from fault_rig import Rig, wait_until
from recur_api import Api, flask_call

from recur.http.request_deadline import DEFAULT_SECONDS
from recur.settings import Settings

ADMIN = "adm_faults"


@dataclass
class Stack:
    rig: Rig
    postgres: Any
    api: Api
    client: Any

    @contextlib.contextmanager
    def database_paused(self) -> Iterator[None]:
        postmaster = psutil.Process(self.postgres.pid)
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            process.suspend()
        try:
            yield
        finally:
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.resume()


@pytest.fixture
def stack(data_root: Path) -> Iterator[Stack]:
    from recur import deadlines
    from recur.bootstrap import build_services
    from recur.commands.event_store import open_event_store
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import ALL, PARTITIONS
    from recur.db import migrate
    from recur.embedded.broker import start_embedded_broker
    from recur.embedded.postgres import create_database, start_embedded_postgres
    from recur.http.app import create_app
    from recur.sealing import generate_master_key

    deadlines.install()  # as the API's WSGI entry point does, before the event store's pool is built
    pgdata = data_root / f"pg-paused-{uuid.uuid4().hex[:6]}"
    postgres = start_embedded_postgres(pgdata)
    url = create_database(postgres.url, "recur")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    data_dir = data_root / f"faults-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    broker = start_embedded_broker(log_path=data_dir / "broker.log")
    ensure_topics(broker.bootstrap_servers, ALL, PARTITIONS)
    master_key = generate_master_key()
    settings = Settings.from_env({"RECUR_DATABASE_URL": url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                                  "RECUR_SANDBOX": "1", "RECUR_ADMIN_TOKEN": ADMIN, "RECUR_MASTER_KEY": master_key})
    services = build_services(settings, url, pool_size=4)
    rig = Rig(url, broker, services, data_dir, master_key)
    rig.worker("relay")
    rig.worker("consumer")
    rig.worker("notifier")  # as `recur up` runs them: readiness counts their consumer groups too
    rig.worker("webhooks")
    client = create_app(services).test_client()
    try:
        yield Stack(rig, postgres, Api(flask_call(client)), client)
    finally:
        rig.stop_all()
        services.close()
        broker.stop()
        postgres.stop()
        shutil.rmtree(pgdata, ignore_errors=True)


def _start_body(producer: Api, plan_id: str, card: str, name: str) -> dict[str, Any]:
    return {"plan_id": plan_id, "subscriber": {"name": name, "email": "bia@example.com"},
            "payment_method": {"type": "card", "card_token": card}}


def _post_as_a_client_would(client: Any, path: str, body: dict[str, Any], headers: dict[str, str], attempts: int = 20) -> Any:
    """POST, and while the answer is 409 "in progress" or 503, wait what Retry-After says and repeat."""
    for _ in range(attempts):
        response = client.post(path, json=body, headers=headers)
        if response.status_code not in (409, 503) or "Retry-After" not in response.headers:
            return response
        time.sleep(int(response.headers["Retry-After"]))  # the server's own instruction, not a guess
    return response


def _listed(producer: Api, count: int) -> bool:
    return len(producer.get("/v1/subscriptions")["items"]) == count


def test_a_paused_database_is_answered_503_with_retry_after_and_the_retry_afterwards_loses_nothing(stack: Stack) -> None:
    producer = stack.api.new_producer(ADMIN)
    plan = producer.new_plan()
    card = producer.card()
    producer.post("/v1/subscriptions", _start_body(producer, plan["id"], card, "Ana"), expect=201)
    keyed = {"Authorization": f"Bearer {producer.token}", "Idempotency-Key": "start-bia"}
    with stack.database_paused():
        began = time.monotonic()
        answer = stack.client.post("/v1/subscriptions", json=_start_body(producer, plan["id"], card, "Bia"), headers=keyed)
        waited = time.monotonic() - began
        readiness = stack.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    assert waited < 3 * DEFAULT_SECONDS  # answered, not hung until the database came back
    assert readiness.status_code == 503
    assert "Retry-After" in readiness.headers
    # The client retries with the same key once the database is back: started once, listed once.
    retried = _post_as_a_client_would(stack.client, "/v1/subscriptions", _start_body(producer, plan["id"], card, "Bia"), keyed)
    assert retried.status_code == 201, retried.get_json()
    again = stack.client.post("/v1/subscriptions", json=_start_body(producer, plan["id"], card, "Bia"), headers=keyed)
    assert again.get_json() == retried.get_json()
    wait_until(lambda: _listed(producer, 2), timeout=30)
    assert stack.client.get("/readyz").status_code == 200


def test_a_stopped_broker_makes_the_api_not_ready_while_commands_go_on_and_reach_the_read_models_after(stack: Stack) -> None:
    producer = stack.api.new_producer(ADMIN)
    plan = producer.new_plan()
    stack.rig.broker.stop()
    readiness = stack.client.get("/readyz")
    assert readiness.status_code == 503
    assert "Retry-After" in readiness.headers
    assert "broker" in readiness.get_json()["detail"]
    started = [producer.subscribe(plan["id"])["id"] for _ in range(3)]  # the event store takes them meanwhile
    stack.rig.broker.restart()  # back, and empty: the relay publishes the history again
    wait_until(lambda: _listed(producer, 3), timeout=60)
    assert sorted(s["id"] for s in producer.get("/v1/subscriptions")["items"]) == sorted(started)
    wait_until(lambda: stack.client.get("/readyz").status_code == 200, timeout=30)
