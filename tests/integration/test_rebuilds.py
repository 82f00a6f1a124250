"""Read models rebuilt from the event store equal the ones fed through Kafka."""

from __future__ import annotations

from typing import Any

from recur_api import Api, flask_call

from recur.projections.rebuild import differences, rebuild
from recur.projections.registry import PROJECTIONS

ADMIN = "adm_integration"


def test_read_models_fed_through_kafka_equal_a_rebuild_from_the_event_store(recur: Any) -> None:
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    plan = producer.new_plan()
    for number in ("4242424242424242", "4000000000000002", "4000000000009995"):
        producer.subscribe(plan["id"], producer.card(number))
    sub = producer.subscribe(plan["id"])
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "too expensive"})
    recur.caught_up()
    diff = differences(recur.services.db, recur.services.events, list(PROJECTIONS.values()))
    assert {"rm_products", "rm_plans", "rm_subscriptions", "rm_billing_schedule", "rm_transactions", "rm_status_history"} <= set(diff)
    assert set(diff.values()) == {0}


def test_a_rebuild_swaps_in_tables_equal_to_the_live_ones_without_stopping_the_consumer(recur: Any) -> None:
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    plan = producer.new_plan()
    producer.subscribe(plan["id"])
    recur.caught_up()
    before = recur.services.db.fetchall("SELECT id, status, paid_recurrences FROM rm_subscriptions ORDER BY id")
    replayed = rebuild(recur.services.db, recur.services.events, [PROJECTIONS["subscriptions"]])
    assert replayed > 0
    after = recur.services.db.fetchall("SELECT id, status, paid_recurrences FROM rm_subscriptions ORDER BY id")
    assert after == before
    late = producer.subscribe(plan["id"])
    recur.caught_up()
    assert recur.services.db.fetchone("SELECT status FROM rm_subscriptions WHERE id = %s", (late["id"],)) == ("active",)
