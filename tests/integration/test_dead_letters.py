"""One event a projection cannot apply, the relay cannot encode, or that is no recur event at all never stops
the pipeline: it is quarantined, reported, and handled in order after a fix. Likewise one subscription whose
billing fails. On a stack of its own (database and broker), so the poison stays out of other tests' read models.

The poison is stored around the API (another layer refuses it there), straight through the event store.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from eventsourcing.domain import Aggregate, event
from recur_api import Api, flask_call
from waiting import wait_until

from recur.bootstrap import build_services
from recur.commands.services import Services
from recur.consumers.dead_letters import DeadLetter, unresolved
from recur.contract.events import CONTRACT, EventContract
from recur.contract.fields import PublicSchema, text
from recur.contract.topics import CATALOG, DEAD_LETTERS, PARTITIONS, PROVISIONED, TOPIC_OF_AGGREGATE
from recur.domain.actor import system_actor
from recur.domain.catalog import Plan, Product
from recur.domain.retry import RetryPolicy
from recur.sealing import generate_master_key
from recur.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files\\(\\) instead:DeprecationWarning")
ADMIN = "adm_dead_letters"


@dataclass
class Stack:
    url: str
    bootstrap: str
    services: Services
    client: Any
    stops: dict[str, threading.Event] = field(default_factory=dict)
    threads: dict[str, threading.Thread] = field(default_factory=dict)

    def start(self, role: str) -> None:
        from recur.bootstrap import open_events
        from recur.consumers.relay import Relay
        from recur.consumers.runner import ConsumerRunner
        from recur.db import Database
        from recur.projections.notifier import GROUP_ID as NOTIFIER_GROUP
        from recur.projections.notifier import notifier
        from recur.projections.registry import PROJECTIONS
        from recur.projections.webhooks import GROUP_ID as WEBHOOKS_GROUP
        from recur.projections.webhooks import webhooks

        stop = self.stops[role] = threading.Event()
        if role == "relay":
            relay = Relay(open_events(self.services.settings, self.url, 2), Database(self.url, 2), self.bootstrap, broker_is_embedded=True)
            self.threads[role] = threading.Thread(target=relay.run, args=(stop.is_set, self.url), daemon=True, name=role)
        elif role == "notifier":
            runner = ConsumerRunner(Database(self.url, 2), self.bootstrap, [notifier], group_id=NOTIFIER_GROUP)
            self.threads[role] = threading.Thread(target=runner.run, args=(stop.is_set,), daemon=True, name=role)
        elif role == "webhooks":
            runner = ConsumerRunner(Database(self.url, 2), self.bootstrap, [webhooks], group_id=WEBHOOKS_GROUP)
            self.threads[role] = threading.Thread(target=runner.run, args=(stop.is_set,), daemon=True, name=role)
        else:
            runner = ConsumerRunner(Database(self.url, 2), self.bootstrap, list(PROJECTIONS.values()))
            self.threads[role] = threading.Thread(target=runner.run, args=(stop.is_set,), daemon=True, name=role)
        self.threads[role].start()

    def stop(self, role: str) -> None:
        self.stops[role].set()
        self.threads[role].join(timeout=15)

    def api(self) -> Api:
        return Api(flask_call(self.client))

    def caught_up(self) -> None:
        from recur.projections.lag import wait_until_caught_up

        wait_until_caught_up(self.services.db, timeout=20)

    def dead_letters(self) -> list[DeadLetter]:
        return unresolved(self.services.db)

    def env(self) -> dict[str, str]:
        return {"RECUR_DATABASE_URL": self.url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "RECUR_MASTER_KEY": self.services.settings.master_key or ""}


@pytest.fixture(scope="module")
def stack(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from recur.commands.event_store import open_event_store
    from recur.consumers.topic_admin import ensure_topics
    from recur.db import migrate
    from recur.embedded.broker import start_embedded_broker
    from recur.embedded.postgres import create_database
    from recur.http.app import create_app

    broker = start_embedded_broker(log_path=Path(tmp_path_factory.mktemp("dead-letters")) / "broker.log")
    ensure_topics(broker.bootstrap_servers, PROVISIONED, PARTITIONS)
    url = create_database(postgres_server.url, f"recur_dead_letters_{uuid.uuid4().hex[:8]}")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    settings = Settings.from_env({"RECUR_DATABASE_URL": url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                                  "RECUR_ADMIN_TOKEN": ADMIN, "RECUR_SANDBOX": "1", "RECUR_MASTER_KEY": generate_master_key()})
    services = build_services(settings, url, pool_size=4)
    running = Stack(url, broker.bootstrap_servers, services, create_app(services).test_client())
    running.start("relay")
    running.start("consumer")
    running.start("notifier")  # readiness counts its consumer group too (it sends nothing here: no sender runs)
    running.start("webhooks")  # likewise (no deliverer runs)
    yield running
    for role in list(running.threads):
        running.stop(role)
    services.close()
    broker.stop()



def producer_id(producer: Api) -> str:
    return str(uuid.UUID(hex=producer.token.split("_")[1]))


def listed_subscriptions(producer: Api) -> list[str]:
    return [s["id"] for s in producer.get("/v1/subscriptions")["items"]]


def listed_products(producer: Api) -> list[str]:
    return [p["name"] for p in producer.get("/v1/products")["items"]]


def dead_letter_topic(bootstrap: str, count: int) -> list[dict[str, Any]]:
    """The first `count` messages on the dead-letter topic."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(DEAD_LETTERS, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while len(found) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                found.extend(json.loads(r.value) for r in records)
        return found
    finally:
        consumer.close()


def test_a_poison_event_is_quarantined_and_other_tenants_keep_flowing(
    stack: Stack, recur_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    from recur.projections.catalog import catalog
    from recur.projections.notifier import notifier
    from recur.projections.rebuild import differences
    from recur.projections.registry import PROJECTIONS

    api = stack.api()
    ana = api.new_producer(ADMIN, "Ana")
    guitar = ana.post("/v1/products", {"name": "Guitar"}, expect=201)
    # A plan priced beyond bigint, then renamed (an event that must wait for the first), and a name with NUL.
    gold = Plan(producer_id=producer_id(ana), product_id=guitar["id"], name="Gold", periodicity="monthly",
                price={"amount": 10**19, "currency": "BRL"}, trial_days=0, max_installments=1,
                retry_policy=RetryPolicy(5, 15, False).as_dict(), renewal_reminder_days=None, actor=system_actor())
    stack.services.events.store(gold)
    gold.revise({"name": "Gold+"}, system_actor())
    stack.services.events.store(gold)
    stack.services.events.store(Product(producer_id=producer_id(ana), name="nul\x00byte", actor=system_actor()))

    bia = api.new_producer(ADMIN, "Bia")
    subscription = bia.subscribe(bia.new_plan("Piano course")["id"])
    wait_until(lambda: listed_subscriptions(bia) == [subscription["id"]], 20, "another tenant's subscription is listed")
    # The NUL name is poison for the notifier too (it keeps product names for its messages): a dead letter of its own.
    wait_until(lambda: len(stack.dead_letters()) == 4, 20, "four dead letters are recorded")
    stack.caught_up()
    assert listed_products(bia) == ["Piano course"]
    assert listed_products(ana) == ["Guitar"]

    letters = {(d.owner, d.kind, d.event_name, d.version): d for d in stack.dead_letters()}
    assert set(letters) == {("catalog", "failed", "PlanCreated", 1), ("catalog", "held", "PlanRevised", 2),
                            ("catalog", "failed", "ProductCreated", 1), ("notifier", "failed", "ProductCreated", 1)}
    price = letters["catalog", "failed", "PlanCreated", 1]
    assert (price.error_class, price.aggregate_id, price.topic) == ("NumericValueOutOfRange", str(gold.id), CATALOG)
    assert "bigint out of range" in price.error_message
    assert price.event["data"]["price"]["amount"] == 10**19
    assert "NUL" in letters["catalog", "failed", "ProductCreated", 1].error_message
    assert letters["catalog", "failed", "ProductCreated", 1].event["data"]["name"] == "nul\x00byte"

    ready = stack.client.get("/readyz")
    assert ready.status_code == 503
    assert "dead_letters: 4 unresolved (catalog 3, notifier 1)" in ready.get_json()["detail"]
    assert 'recur_dead_letters{projection="catalog"} 3.0' in stack.client.get("/metrics").get_data(as_text=True)
    status = recur_cli("projections", "status", env=stack.env())
    assert status.exit_code == 0, status.output
    assert [line.split()[-1] for line in status.output.splitlines() if line.startswith("catalog ")] == ["3"]
    assert f"catalog failed PlanCreated {gold.id} v1" in status.output
    published = dead_letter_topic(stack.bootstrap, 4)
    assert sorted((m["kind"], m["event_name"], m["error"]["class"]) for m in published) == [
        ("failed", "PlanCreated", "NumericValueOutOfRange"), ("failed", "ProductCreated", "ValueError"),
        ("failed", "ProductCreated", "ValueError"), ("held", "PlanRevised", "HeldBehindDeadLetter")]

    unfixed = recur_cli("projections", "retry-dead", env=stack.env())
    assert unfixed.exit_code == 1
    assert "retried 4 dead letter(s): 0 applied and resolved, 4 still failing" in unfixed.output
    assert {d.attempts for d in stack.dead_letters() if d.kind == "failed"} == {2}

    # The fixes: the column widened (the data was right), a handler deployed that copes with NUL.
    stack.services.db.execute("ALTER TABLE rm_plans ALTER COLUMN price_amount TYPE numeric(30)")
    original = catalog.handlers["ProductCreated"]
    monkeypatch.setitem(catalog.handlers, "ProductCreated", lambda cur, e: original(
        cur, {**e, "data": {**e["data"], "name": e["data"]["name"].replace("\x00", "")}}))
    fixed = recur_cli("projections", "retry-dead", "--projection", "catalog", env=stack.env())
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.strip().splitlines()[-1] == "retried 3 dead letter(s): 3 applied and resolved, 0 still failing"
    assert [(d.owner, d.event_name) for d in stack.dead_letters()] == [("notifier", "ProductCreated")]
    noted = notifier.handlers["ProductCreated"]
    monkeypatch.setitem(notifier.handlers, "ProductCreated", lambda cur, e: noted(
        cur, {**e, "data": {**e["data"], "name": e["data"]["name"].replace("\x00", "")}}))
    assert recur_cli("projections", "retry-dead", "--projection", "notifier", env=stack.env()).exit_code == 0
    assert stack.dead_letters() == []
    assert stack.services.db.fetchone("SELECT name, price_amount FROM rm_plans WHERE id = %s", (str(gold.id),)) == ("Gold+", 10**19)
    assert sorted(listed_products(ana)) == ["Guitar", "nulbyte"]
    assert stack.client.get("/readyz").status_code == 200

    gold.revise({"name": "Gold++"}, system_actor())  # the plan is no longer held: its next event applies at once
    stack.services.events.store(gold)
    wait_until(lambda: stack.services.db.fetchone("SELECT name FROM rm_plans WHERE id = %s", (str(gold.id),)) == ("Gold++",), 20,
               "the plan's next event is applied")
    stack.caught_up()
    assert set(differences(stack.services.db, stack.services.events, list(PROJECTIONS.values())).values()) == {0}


def test_a_database_outage_is_retried_never_blamed_on_the_event(stack: Stack) -> None:
    import psycopg2

    from recur.projections.base import Projection, apply_events

    probe = Projection(f"probe_{uuid.uuid4().hex[:8]}", [CATALOG], [])
    outage = {"raise": psycopg2.OperationalError("server closed the connection unexpectedly")}

    @probe.on("ProductCreated")
    def when_product_created(cur: Any, e: dict[str, Any]) -> None:
        raise outage["raise"]

    delivery = (CATALOG, 0, {"type": "recur.product.ProductCreated", "aggregate_id": str(uuid.uuid4()), "version": 1,
                             "notification_id": 1, "occurred_at": "2026-01-01T00:00:00+00:00", "data": {}})
    with pytest.raises(psycopg2.OperationalError), stack.services.db.transaction() as cur:
        apply_events(cur, probe, [delivery], isolate=True)

    outage["raise"] = psycopg2.errors.NumericValueOutOfRange("bigint out of range")  # the event's fault this time
    with stack.services.db.transaction() as cur:
        outcome = apply_events(cur, probe, [delivery], isolate=True)
    assert [(s.held, type(s.error).__name__) for s in outcome.setbacks] == [(False, "NumericValueOutOfRange")]
    blocked = stack.services.db.fetchone("SELECT version, blocked_at FROM projection_versions WHERE projection = %s", (probe.name,))
    assert blocked == (0, 1)
    stack.services.db.execute("DELETE FROM projection_versions WHERE projection = %s", (probe.name,))
    stack.services.db.execute("DELETE FROM projection_positions WHERE projection = %s", (probe.name,))


class GadgetData(PublicSchema):
    label = text("What the gadget is called.")


class Gadget(Aggregate):
    """An aggregate nobody gave a public topic and schemas: the relay cannot encode its events."""

    @event("Assembled")
    def __init__(self, label: str) -> None:
        self.label = label

    @event("Relabelled")
    def relabel(self, label: str) -> None:
        self.label = label


def test_an_event_the_relay_cannot_encode_holds_its_aggregate_only_until_retried_after_a_fix(
    stack: Stack, recur_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    gadget = Gadget("one")
    stack.services.events.store(gadget)
    gadget.relabel("two")
    stack.services.events.store(gadget)
    bia = stack.api().new_producer(ADMIN, "Bia")
    bia.post("/v1/products", {"name": "Drums"}, expect=201)
    wait_until(lambda: listed_products(bia) == ["Drums"], 20, "the relay publishes what comes after")
    wait_until(lambda: len(stack.dead_letters()) == 2, 20, "the relay records two dead letters")
    failed, held = stack.dead_letters()
    assert (failed.owner, failed.kind, failed.event_name, failed.version, failed.error_class) == (
        "relay", "unpublishable", "Assembled", 1, "NotInContractError")
    assert (held.owner, held.kind, held.event_name, held.version) == ("relay", "held", "Relabelled", 2)
    assert "relay 2" in stack.client.get("/readyz").get_json()["detail"]

    # The fix: the aggregate gets its topic, and its events public schemas.
    monkeypatch.setitem(TOPIC_OF_AGGREGATE, "Gadget", CATALOG)
    for event_class in (Gadget.Assembled, Gadget.Relabelled):  # type: ignore[attr-defined]
        monkeypatch.setitem(CONTRACT._by_class, event_class, EventContract(event_class, GadgetData, version=1))
    retried = recur_cli("projections", "retry-dead", "--id", str(held.id), env=stack.env())  # with what holds it back
    assert retried.exit_code == 0, retried.output
    assert "2 applied and resolved, 0 still failing" in retried.output
    gadget.relabel("three")  # published by the live relay now, after the two retried ones
    stack.services.events.store(gadget)

    def catalog_version() -> Any:
        return stack.services.db.fetchone(
            "SELECT version, blocked_at FROM projection_versions WHERE projection = 'catalog' AND aggregate_id = %s", (str(gadget.id),))

    wait_until(lambda: catalog_version() == (3, None), 20, "the consumer applied all three events, in order")
    assert stack.client.get("/readyz").status_code == 200


def test_a_message_that_is_no_recur_event_is_quarantined_and_can_be_discarded(
    stack: Stack, recur_cli: Callable[..., Result]
) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    try:
        for junk in (b"not json", b'{"type": "recur.product.ProductCreated", "version": "1"}'):
            producer.send(CATALOG, key=b"someone", value=junk).get(timeout=10)
    finally:
        producer.close()
    bia = stack.api().new_producer(ADMIN, "Bia")
    bia.post("/v1/products", {"name": "Flute"}, expect=201)
    wait_until(lambda: listed_products(bia) == ["Flute"], 20, "the consumer goes on past the stray messages")
    # Each consumer group reading the topic meets both: the read models', the notifier's and the webhooks group's.
    wait_until(lambda: len(stack.dead_letters()) == 6, 20, "two stray messages are recorded by each group")
    strays = stack.dead_letters()
    assert {(d.owner, d.kind, d.error_class) for d in strays} == {("recur-projections", "malformed", "MalformedEventError"),
                                                                 ("recur-notifier", "malformed", "MalformedEventError"),
                                                                 ("recur-webhooks", "malformed", "MalformedEventError")}
    assert stack.client.get("/readyz").status_code == 503

    retried = recur_cli("projections", "retry-dead", env=stack.env())
    assert retried.exit_code == 1 and "(not a recur event)" in retried.output
    for stray in strays:
        discarded = recur_cli("projections", "discard-dead", "--id", str(stray.id), env=stack.env())
        assert discarded.exit_code == 0, discarded.output
    assert stack.dead_letters() == []
    assert stack.client.get("/readyz").status_code == 200


def test_a_subscription_whose_billing_fails_is_set_aside_for_a_backoff_while_the_others_are_billed(stack: Stack) -> None:
    from recur.scheduler import next_due, run_due

    bia = stack.api().new_producer(ADMIN, "Bia")
    subscription = bia.subscribe(bia.new_plan()["id"])
    stack.caught_up()
    db, ghost = stack.services.db, str(uuid.uuid4())  # due work for a subscription the event store does not know
    db.execute("INSERT INTO rm_billing_schedule (subscription_id, due_at) VALUES (%s, '1999-01-01T00:00Z')", (ghost,))
    db.execute("UPDATE rm_billing_schedule SET due_at = '1999-01-02T00:00Z' WHERE subscription_id = %s", (subscription["id"],))
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        first = run_due(stack.services, moment)
        assert (first.examined, first.billed, first.errors) == (2, 1, 1)
        failure = db.fetchone("SELECT error_class, attempts, extract(epoch FROM retry_at - now()) FROM scheduler_failures "
                              "WHERE subscription_id = %s", (ghost,))
        assert failure is not None and failure[:2] == ("NotFoundError", 1) and 5 < failure[2] <= 10

        second = run_due(stack.services, moment)  # within the backoff: the failing one is left alone
        assert (second.examined, second.billed, second.errors) == (1, 1, 0)
        assert next_due(stack.services, moment) == datetime(1999, 1, 2, tzinfo=UTC)
        assert "recur_scheduler_failures 1.0" in stack.client.get("/metrics").get_data(as_text=True)

        db.execute("UPDATE scheduler_failures SET retry_at = now() WHERE subscription_id = %s", (ghost,))
        third = run_due(stack.services, moment)  # the backoff over, it is tried again, and waits twice as long
        assert (third.examined, third.errors) == (2, 1)
        again = db.fetchone("SELECT attempts, extract(epoch FROM retry_at - now()) FROM scheduler_failures WHERE subscription_id = %s",
                            (ghost,))
        assert again is not None and again[0] == 2 and 15 < again[1] <= 20
    finally:
        db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = %s", (ghost,))
        db.execute("DELETE FROM scheduler_failures WHERE subscription_id = %s", (ghost,))


def test_readiness_fails_while_read_models_are_behind_and_not_moving(stack: Stack) -> None:
    from recur.http.pipeline_health import WATCH_KEY
    from recur.projections.lag import StallWatch

    stack.caught_up()
    assert stack.client.get("/readyz").status_code == 200
    stack.client.application.extensions[WATCH_KEY] = StallWatch(after=0.5)
    stack.stop("consumer")
    bia = stack.api().new_producer(ADMIN, "Bia")
    bia.post("/v1/products", {"name": "Harp"}, expect=201)

    def readiness() -> Any:
        return stack.client.get("/readyz")

    wait_until(lambda: readiness().status_code == 503, 15, "readiness reports the stuck read models")
    detail = readiness().get_json()["detail"]
    assert "read_models: stuck: catalog behind and not moving for" in detail
    stack.start("consumer")
    wait_until(lambda: readiness().status_code == 200, 30, "readiness recovers once the read models move again")
    assert listed_products(bia) == ["Harp"]
