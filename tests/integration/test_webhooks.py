"""Webhooks to producers, end to end: events -> the recur-webhooks consumer group -> delivery rows -> the deliverer ->
a real HTTP server in this process, which checks every delivery with the Standard Webhooks library's own verifier.

Each test has receivers and producers of its own, so it sees only its own deliveries. "Nothing else arrived" is
checked after the consumer groups have caught up and every delivery of the test's endpoints is finished.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from recur_api import Api, flask_call
from standardwebhooks import Webhook, WebhookVerificationError
from waiting import wait_until
from webhook_receiver import Delivery, Receiver

Running = Any  # the `recur` fixture (tests/integration/conftest.py)
ADMIN = "adm_integration"
CANCELLED = "subscription.cancelled"
STARTED = "subscription.subscription_started"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def another_receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def register(producer: Api, url: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = producer.post("/v1/webhook-endpoints", {"url": url, **fields}, expect=201)
    return created


def verified(delivery: Delivery, secret: str) -> dict[str, Any]:
    """The payload, as a receiver holding `secret` reads it: Webhook.verify raises unless a signature is the secret's."""
    payload: dict[str, Any] = Webhook(secret).verify(delivery.body, delivery.headers)
    return payload


def now(admin: Api) -> datetime:
    return datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])


def settled(recur: Running, endpoint_id: str) -> None:
    """The consumer groups caught up, and every delivery of the endpoint attempted at least once and not in flight."""
    recur.caught_up()

    def nothing_under_way() -> bool:
        return recur.services.db.fetchone(
            "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = %s AND (attempts = 0 AND status = 'pending' "
            "OR in_flight_until IS NOT NULL)", (endpoint_id,)) == (0,)

    wait_until(nothing_under_way, 20, "every delivery of the endpoint is attempted", interval=0.02)



# ---------------------------------------------------------------------------------------------- what arrives


def test_deliveries_arrive_signed_and_carry_the_subscription_as_the_api_shows_it_after_the_event(
    producer: Api, receiver: Receiver
) -> None:
    endpoint = register(producer, receiver.url, description="CRM")
    assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "enabled" and endpoint["event_types"] == []
    plan = producer.new_plan(price={"amount": 4990, "currency": "BRL"})
    sub = producer.subscribe(plan["id"])

    charged = receiver.one("subscription.charge_succeeded")
    payload = verified(charged, endpoint["secret"])
    event = payload["data"]["event"]
    assert payload["type"] == "subscription.charge_succeeded" and event["name"] == "ChargeSucceeded"
    assert charged.webhook_id == f"{sub['id']}:{event['version']}"
    assert charged.headers["content-type"] == "application/json"
    history = producer.get(f"/v1/subscriptions/{sub['id']}/events")["items"]
    assert event["data"] == history[event["version"] - 1]["data"]
    assert payload["timestamp"] == history[event["version"] - 1]["occurred_at"]
    assert payload["data"]["subscription"]["version"] == event["version"] and payload["data"]["subscription"]["paid_recurrences"] == 1
    started = verified(receiver.one(STARTED), endpoint["secret"])
    assert started["data"]["subscription"]["version"] == 1 and started["data"]["subscription"]["paid_recurrences"] == 0

    # Every event is delivered; after the last one, the subscription exactly as GET shows it now.
    receiver.wait_for(lambda: len(receiver.deliveries()) == len(history), "a delivery of every event")
    last = max((verified(d, endpoint["secret"]) for d in receiver.deliveries()), key=lambda payload: payload["data"]["event"]["version"])
    assert last["data"]["subscription"] == producer.get(f"/v1/subscriptions/{sub['id']}")

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(charged.body, charged.headers)  # another secret: refused


def test_one_producer_never_receives_another_producers_events(api: Api, receiver: Receiver, another_receiver: Receiver) -> None:
    ana, bruno = api.new_producer(ADMIN, "Ana Courses"), api.new_producer(ADMIN, "Bruno Music")
    ana_secret = register(ana, receiver.url)["secret"]
    bruno_secret = register(bruno, another_receiver.url)["secret"]
    anas = ana.subscribe(ana.new_plan()["id"])
    brunos = bruno.subscribe(bruno.new_plan()["id"])

    receiver.one("subscription.charge_succeeded")
    another_receiver.one("subscription.charge_succeeded")
    assert {verified(d, ana_secret)["data"]["subscription"]["id"] for d in receiver.deliveries()} == {anas["id"]}
    assert {verified(d, bruno_secret)["data"]["subscription"]["id"] for d in another_receiver.deliveries()} == {brunos["id"]}


def test_an_endpoint_filtered_to_cancelled_receives_nothing_else(recur: Running, producer: Api, receiver: Receiver,
                                                                 another_receiver: Receiver) -> None:
    filtered = register(producer, receiver.url, event_types=[CANCELLED])
    everything = register(producer, another_receiver.url)
    sub = producer.subscribe(producer.new_plan()["id"])
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "moving on"})

    another_receiver.one(CANCELLED)
    cancelled = receiver.one(CANCELLED)
    settled(recur, filtered["id"])
    assert [d.type for d in receiver.deliveries()] == [CANCELLED]
    assert verified(cancelled, filtered["secret"])["data"]["subscription"]["status"] == "cancelled"
    assert {STARTED, "subscription.charge_succeeded", CANCELLED} <= {d.type for d in another_receiver.deliveries()}
    listed = producer.get(f"/v1/webhook-endpoints/{filtered['id']}/deliveries")["items"]
    assert [(item["type"], item["status"]) for item in listed] == [(CANCELLED, "succeeded")]
    assert everything["id"] != filtered["id"]


# ---------------------------------------------------------------------------------------------- retries on the clock


def test_a_receiver_answering_500_then_200_gets_the_same_webhook_id_again_after_the_clock_moves(
    recur: Running, producer: Api, admin: Api, receiver: Receiver
) -> None:
    endpoint = register(producer, receiver.url, event_types=[CANCELLED])
    sub = producer.subscribe(producer.new_plan()["id"])
    receiver.answer_next(500)
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {})

    first = receiver.one(CANCELLED)
    settled(recur, endpoint["id"])
    (refused,) = producer.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")["items"]
    assert (refused["status"], refused["attempts"], refused["last_response_status"]) == ("pending", 1, 500)
    retry_at = datetime.fromisoformat(refused["next_attempt_at"])
    assert retry_at - datetime.fromisoformat(refused["last_attempt_at"]) == timedelta(seconds=5)
    assert len(receiver.deliveries()) == 1  # the sandbox clock stands still: the retry waits for it

    admin.post("/v1/sandbox/clock/advance", {"to": (retry_at + timedelta(minutes=1)).isoformat()})

    receiver.wait_for(lambda: len(receiver.deliveries()) == 2, "the retry")
    second = receiver.deliveries()[1]
    assert second.webhook_id == first.webhook_id and second.body == first.body
    verified(second, endpoint["secret"])
    (delivered,) = producer.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")["items"]
    assert (delivered["status"], delivered["attempts"], delivered["last_response_status"]) == ("succeeded", 2, 200)
    assert datetime.fromisoformat(delivered["last_attempt_at"]) == retry_at  # on the clock, at its own instant
    assert delivered["next_attempt_at"] is None


def test_a_receiver_that_hangs_does_not_delay_another_producers_deliveries(api: Api, receiver: Receiver,
                                                                           another_receiver: Receiver) -> None:
    stuck, lively = api.new_producer(ADMIN, "Stuck Courses"), api.new_producer(ADMIN, "Lively Courses")
    receiver.hang()
    register(stuck, receiver.url)
    register(lively, another_receiver.url)
    plan = stuck.new_plan()
    for _ in range(3):  # more deliveries than one endpoint may have under way
        stuck.subscribe(plan["id"])
    receiver.wait_for(lambda: receiver.in_flight >= 4, "the stuck receiver to hold its deliveries")

    lively.subscribe(lively.new_plan()["id"])

    another_receiver.one("subscription.charge_succeeded", timeout=10)  # well within the stuck one's 15 s
    assert not receiver.released.is_set() and receiver.in_flight == 4  # at most 4 under way per endpoint
    receiver.release()


def test_a_delivery_is_listed_and_can_be_sent_again_by_hand_with_the_same_id_and_body(
    recur: Running, producer: Api, receiver: Receiver
) -> None:
    endpoint = register(producer, receiver.url, event_types=[STARTED, CANCELLED])
    sub = producer.subscribe(producer.new_plan()["id"])
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {})
    receiver.one(CANCELLED)
    settled(recur, endpoint["id"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"

    newest = producer.get(f"{path}?limit=1")
    older = producer.get(f"{path}?limit=1&cursor={newest['next_cursor']}")
    assert [newest["items"][0]["type"], older["items"][0]["type"]] == [CANCELLED, STARTED] and older["next_cursor"] is None
    retried = producer.post(f"{path}/{older['items'][0]['id']}/retry", expect=202)
    assert (retried["status"], retried["webhook_id"]) == ("pending", f"{sub['id']}:1")

    receiver.wait_for(lambda: len(receiver.deliveries(STARTED)) == 2, "the delivery sent again")
    first, again = receiver.deliveries(STARTED)
    assert again.webhook_id == first.webhook_id and again.body == first.body
    producer.post(f"{path}/999999999/retry", expect=404)
    other = api_of(recur).new_producer(ADMIN)
    other.get(path, expect=404)  # another producer's endpoint is unknown


def api_of(recur: Running) -> Api:
    return Api(flask_call(recur.client))


# ---------------------------------------------------------------------------------------------- secrets


def test_after_a_rotation_deliveries_carry_both_signatures_for_24_hours(recur: Running, producer: Api, admin: Api,
                                                                        receiver: Receiver) -> None:
    endpoint = register(producer, receiver.url, event_types=[STARTED, CANCELLED])
    rotated = producer.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", expect=200)
    assert rotated["secret"] != endpoint["secret"] and rotated["secret"].startswith("whsec_")
    valid_until = datetime.fromisoformat(rotated["previous_secret_valid_until"])
    assert valid_until - now(admin) == timedelta(hours=24)
    sub = producer.subscribe(producer.new_plan()["id"])

    both = receiver.one(STARTED)
    assert len(both.signatures) == 2
    verified(both, endpoint["secret"])  # a receiver still on the old secret
    verified(both, rotated["secret"])  # and one already on the new

    admin.post("/v1/sandbox/clock/advance", {"to": (valid_until + timedelta(hours=1)).isoformat()})
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {})
    one = receiver.one(CANCELLED)
    assert len(one.signatures) == 1
    verified(one, rotated["secret"])
    with pytest.raises(WebhookVerificationError):
        verified(one, endpoint["secret"])


def test_the_signing_secret_is_stored_nowhere_in_plain_text(recur: Running, producer: Api, receiver: Receiver) -> None:
    endpoint = register(producer, receiver.url)
    secret = endpoint["secret"].encode()
    recur.caught_up()
    assert recur.services.db.fetchone("SELECT count(*) FROM recur_events WHERE position(%s in state) > 0", (secret,)) == (0,)
    (sealed,) = recur.services.db.fetchone("SELECT sealed FROM webhook_secrets WHERE endpoint_id = %s", (endpoint["id"],))  # type: ignore[misc]
    assert secret not in bytes(sealed)
    assert "secret" not in producer.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    listed = [item for item in producer.get("/v1/webhook-endpoints")["items"] if item["id"] == endpoint["id"]]
    assert listed and "secret" not in listed[0]


# ---------------------------------------------------------------------------------------------- where recur may send


def test_private_addresses_are_refused_outside_the_sandbox(recur: Running, producer: Api) -> None:
    from recur.http.app import create_app

    production = create_app(dataclasses.replace(recur.services, settings=recur.services.settings.with_(sandbox=False)))
    outside = Api(flask_call(production.test_client()), producer.token)
    for url in ("https://10.0.0.7/hooks", "https://127.0.0.1/hooks", "https://localhost/hooks", "https://169.254.169.254/latest",
                "https://[::1]/hooks", "https://[::ffff:192.168.0.1]/hooks", "https://100.64.0.1/hooks", "http://203.0.113.9/hooks"):
        refused = outside.post("/v1/webhook-endpoints", {"url": url}, expect=422)
        assert list(refused["errors"]) == ["url"], (url, refused)
    assert "https" in outside.post("/v1/webhook-endpoints", {"url": "http://93.184.216.34/"}, expect=422)["errors"]["url"][0]
    # In the sandbox loopback is allowed (the tests receive on it), private networks are not.
    assert list(producer.post("/v1/webhook-endpoints", {"url": "http://10.1.2.3/"}, expect=422)["errors"]) == ["url"]
    assert list(producer.post("/v1/webhook-endpoints", {"url": "https://user:pw@127.0.0.1/"}, expect=422)["errors"]) == ["url"]


def test_an_endpoint_disabled_by_its_producer_receives_nothing_until_enabled_again(recur: Running, producer: Api,
                                                                                    receiver: Receiver) -> None:
    endpoint = register(producer, receiver.url, event_types=[CANCELLED])
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    plan = producer.new_plan()
    first, second = producer.subscribe(plan["id"]), producer.subscribe(plan["id"])
    disabled = producer.patch(path, {"status": "disabled"})
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "producer")
    producer.post(f"/v1/subscriptions/{first['id']}/cancel", {})
    recur.caught_up()
    assert producer.get(f"{path}/deliveries")["items"] == []

    producer.patch(path, {"status": "enabled", "event_types": [CANCELLED, STARTED]})
    producer.post(f"/v1/subscriptions/{second['id']}/cancel", {})
    cancelled = receiver.one(CANCELLED)
    assert verified(cancelled, endpoint["secret"])["data"]["subscription"]["id"] == second["id"]
    producer.request("DELETE", path, expect=204)
    producer.get(path, expect=404)


# ---------------------------------------------------------------------------------------------- failing for days


def test_an_endpoint_failing_for_five_days_is_disabled_and_its_producer_told_by_email(recur: Running, api: Api, admin: Api,
                                                                                       receiver: Receiver) -> None:
    email = f"ops-{uuid.uuid4().hex[:10]}@example.com"
    producer = api.as_(admin.post("/v1/producers", {"name": "Failing Courses", "email": email}, expect=201)["api_key"])
    endpoint = register(producer, receiver.url, event_types=[STARTED])
    receiver.answer_next(*[503] * 200)
    plan = producer.new_plan()
    started = now(admin)
    for day in range(1, 8):
        producer.subscribe(plan["id"])
        admin.post("/v1/sandbox/clock/advance", {"to": (started + timedelta(days=day)).isoformat()})
        if producer.get(f"/v1/webhook-endpoints/{endpoint['id']}")["status"] == "disabled":
            break

    found = producer.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert (found["status"], found["disabled_reason"]) == ("disabled", "failing")
    assert timedelta(days=5) <= now(admin) - started <= timedelta(days=7)
    told = recur.mail.one(email, "webhook_endpoint_disabled")
    text = str(told.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert receiver.url in text and endpoint["id"] in text
    for refused in receiver.deliveries():  # every attempt, refused or not, was a signed delivery
        verified(refused, endpoint["secret"])


def test_delivery_counts_are_in_the_metrics_and_the_status_command(recur: Running, producer: Api, receiver: Receiver,
                                                                   recur_cli: Any) -> None:
    register(producer, receiver.url, event_types=[STARTED])
    producer.subscribe(producer.new_plan()["id"])
    receiver.one(STARTED)
    metrics = recur.client.get("/metrics").get_data(as_text=True)
    succeeded = [line for line in metrics.splitlines() if line.startswith('recur_webhook_deliveries{status="succeeded"}')]
    assert succeeded and float(succeeded[0].split()[-1]) >= 1
    assert "recur_webhook_oldest_pending_seconds" in metrics

    result = recur_cli("webhooks", "status", env={"RECUR_DATABASE_URL": recur.services.db.url, "RECUR_SANDBOX": "1"})
    assert "deliveries:" in result.output and "succeeded" in result.output, result.output
