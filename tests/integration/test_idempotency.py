"""Idempotency keys as Stripe keeps them: a day long, never stuck on a dead worker, never storing secrets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from typing import Any

from recur_api import Api

from recur.commands.idempotency import IdempotencyStore, KeyedRequest, scope_for

ADMIN = "adm_integration"


def _producer_id(producer: Api) -> str:
    return str(uuid.UUID(producer.token.split("_")[1]))


def _body(producer: Api, plan_id: str, name: str = "Bia") -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "subscriber": {"name": name, "email": "bia@example.com"},
        "payment_method": {"type": "card", "card_token": producer.card()},
    }


def _stored_rows(recur: Any) -> list[tuple[Any, ...]]:
    return recur.services.db.fetchall("SELECT scope, key_hash, sealed_body FROM idempotency_keys")


def test_a_replayed_subscription_start_returns_its_token_though_the_token_is_stored_nowhere_readable(producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    body = _body(producer, plan["id"])
    first = producer.post("/v1/subscriptions", body, expect=201, Idempotency_Key="start-once-7f3a")
    again = producer.post("/v1/subscriptions", body, expect=201, Idempotency_Key="start-once-7f3a")
    assert again == first
    secret = first["subscriber_token"].encode()
    rows = _stored_rows(recur)
    assert rows
    for _scope, key_hash, sealed_body in rows:
        assert key_hash != "start-once-7f3a"
        assert secret not in bytes(sealed_body)
        assert b"subscriber_token" not in bytes(sealed_body)


def test_a_producer_api_key_replayed_by_its_idempotency_key_is_sealed_at_rest(api: Api, recur: Any) -> None:
    admin = api.as_(ADMIN)
    body = {"name": "Ana Courses", "email": "ana@example.com"}
    first = admin.post("/v1/producers", body, expect=201, Idempotency_Key="producer-ana-1")
    again = admin.post("/v1/producers", body, expect=201, Idempotency_Key="producer-ana-1")
    assert again == first
    sealed = [bytes(row[2]) for row in _stored_rows(recur) if row[0] == scope_for("admin", "admin", "/v1/producers")]
    assert sealed and all(first["api_key"].encode() not in blob and b"api_key" not in blob for blob in sealed)


def test_a_key_is_forgotten_after_a_day_and_may_then_start_a_new_request(producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    first = producer.post("/v1/subscriptions", _body(producer, plan["id"], "Bia"), expect=201, Idempotency_Key="daily-key")
    scope = scope_for("producer", _producer_id(producer), "/v1/subscriptions")
    # A day passes for the stored key (its expiry is the only thing time changes about it).
    recur.services.db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE scope = %s", (scope,))
    second = producer.post("/v1/subscriptions", _body(producer, plan["id"], "Carla"), expect=201, Idempotency_Key="daily-key")
    assert second["id"] != first["id"]
    recur.services.db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE scope = %s", (scope,))
    assert _store(recur).forget_expired() >= 1
    assert recur.services.db.fetchone("SELECT count(*) FROM idempotency_keys WHERE scope = %s", (scope,)) == (0,)


def test_a_card_token_made_by_a_buyers_browser_honours_its_idempotency_key(api: Api) -> None:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    first = api.post("/v1/sandbox/card-tokens", card, expect=201, Idempotency_Key="browser-key-1")
    again = api.post("/v1/sandbox/card-tokens", card, expect=201, Idempotency_Key="browser-key-1")
    assert again == first


def test_a_request_still_running_in_a_live_process_is_answered_in_progress(producer: Api, recur: Any) -> None:
    body = {"name": "Guitar course"}
    keyed = KeyedRequest(scope_for("producer", _producer_id(producer), "/v1/products"), "running-key", _json(body), "req-running")
    _store(recur).claim(keyed)  # this test process is alive and holds the claim
    status, problem = producer.call("POST", "/v1/products", body, _keyed_headers(producer, "running-key"))
    assert status == 409
    assert problem["type"].endswith("idempotency-in-progress")


def _keyed_headers(producer: Api, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {producer.token}", "Idempotency-Key": key}


def _json(body: dict[str, Any]) -> bytes:
    """The bytes Flask's test client sends for `json=body`."""
    import json

    return json.dumps(body).encode()


def _store(recur: Any) -> IdempotencyStore:
    return IdempotencyStore(recur.services.db, recur.services.events.recorder.events_table_name)


def _die_holding_a_claim(database_url: str, keyed: KeyedRequest, producer_id: str | None = None) -> None:
    """A separate process claims the key (as an API worker does), optionally records a product as that
    request, and exits without answering: a worker killed mid-request."""
    script = textwrap.dedent(
        f"""
        import os
        from recur.commands.event_store import open_event_store
        from recur.commands.catalog import create_product
        from recur.commands.idempotency import IdempotencyStore, KeyedRequest
        from recur.db import Database
        from recur.domain.actor import Actor
        db, events = Database({database_url!r}, 1), open_event_store({database_url!r}, 1)
        keyed = KeyedRequest({keyed.scope!r}, {keyed.key!r}, {keyed.body!r}, {keyed.request_id!r})
        assert IdempotencyStore(db, events.recorder.events_table_name).claim(keyed).state.value == "claimed"
        producer_id = {producer_id!r}
        if producer_id:
            class Services: pass
            services = Services(); services.events = events
            create_product(services, producer_id, "Guitar course", Actor(kind="producer", id=producer_id, request_id=keyed.request_id))
        os._exit(9)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert completed.returncode == 9, completed.stderr.decode()


def test_a_claim_left_by_a_killed_worker_is_taken_over_by_the_retry(producer: Api, recur: Any, database_url: str) -> None:
    body = {"name": "Guitar course"}
    keyed = KeyedRequest(scope_for("producer", _producer_id(producer), "/v1/products"), "orphaned-key", _json(body), "req-killed-1")
    _die_holding_a_claim(database_url, keyed)
    created = producer.post("/v1/products", body, expect=201, Idempotency_Key="orphaned-key")
    assert producer.post("/v1/products", body, expect=201, Idempotency_Key="orphaned-key") == created


def test_a_retry_after_a_worker_died_having_recorded_its_effect_is_not_run_twice(producer: Api, recur: Any, database_url: str) -> None:
    body = {"name": "Guitar course"}
    producer_id = _producer_id(producer)
    keyed = KeyedRequest(scope_for("producer", producer_id, "/v1/products"), "half-done-key", _json(body), "req-killed-2")
    _die_holding_a_claim(database_url, keyed, producer_id=producer_id)
    status, problem = producer.call("POST", "/v1/products", body, _keyed_headers(producer, "half-done-key"))
    assert status == 409
    assert problem["type"].endswith("idempotency-response-lost")
    recur.caught_up()
    assert len(producer.get("/v1/products")["items"]) == 1


def test_an_idempotency_key_with_a_nul_character_works_like_any_other(producer: Api) -> None:
    first = producer.post("/v1/products", {"name": "Guitar course"}, expect=201, Idempotency_Key="odd\x00key")
    assert producer.post("/v1/products", {"name": "Guitar course"}, expect=201, Idempotency_Key="odd\x00key") == first
