"""An idle consumer keeps its partitions: the stall watchdog must not mistake "nothing to do" for
"stuck behind the relay", or every idle stretch ends with the group rebalancing (seconds of latency)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import pytest
from recur_api import Api, flask_call
from waiting import wait_until

from recur.consumers.runner import ConsumerRunner
from recur.contract.topics import CATALOG, SUBSCRIPTIONS
from recur.db import Database
from recur.projections.base import Projection

ADMIN = "adm_integration"
STALL_AFTER = 0.2


def _probe_behind(db: Database, probes: list[Projection]) -> int:
    """Partitions where the relay published more than the probes have seen (each only on the topics it reads)."""
    pairs = [(p.name, t) for p in probes for t in p.topics]
    row = db.fetchone(
        "SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS n(projection, topic) JOIN relay_partitions r ON r.topic = n.topic "
        "LEFT JOIN projection_positions p ON p.projection = n.projection AND p.topic = r.topic AND p.partition = r.partition "
        "WHERE coalesce(p.last_notification_id, 0) < r.last_notification_id",
        ([name for name, _ in pairs], [topic for _, topic in pairs]),
    )
    return int(row[0]) if row else -1



def test_an_idle_consumer_does_not_leave_its_group_while_a_subscription_is_created_and_read_back(
    recur: Any, caplog: pytest.LogCaptureFixture
) -> None:
    producer = Api(flask_call(recur.client)).new_producer(ADMIN, "Idle Co")
    plan = producer.new_plan()
    producer.subscribe(plan["id"])
    recur.caught_up()
    # Two projections reading one topic each, under names of their own, in a group of their own: the shape
    # of the real consumer (no projection reads every topic), without sharing its rows or partitions.
    tag = uuid.uuid4().hex[:8]
    probes = [Projection(f"probe_catalog_{tag}", [CATALOG], []), Projection(f"probe_subscriptions_{tag}", [SUBSCRIPTIONS], [])]
    db = Database(recur.services.db.url, 2)
    runner = ConsumerRunner(db, recur.services.settings.kafka_bootstrap_servers, probes, group_id=f"recur-idle-probe-{tag}")
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop.is_set,), kwargs={"stall_after": STALL_AFTER}, name="idle-probe")
    caplog.set_level(logging.WARNING, logger="recur.consumers.runner")
    thread.start()
    try:
        wait_until(lambda: _probe_behind(db, probes) == 0, 30, "the probe consumer caught up with the relay")
        caplog.clear()

        sub = producer.subscribe(plan["id"])
        wait_until(lambda: any(s["id"] == sub["id"] for s in producer.get("/v1/subscriptions?limit=100")["items"]), 20,
              "the new subscription is listed")
        wait_until(lambda: _probe_behind(db, probes) == 0, 20, "the probe consumer saw the new subscription's events")
        # Idle now: read the subscription back for several stall periods; the watchdog looks every STALL_AFTER.
        idle_until = time.monotonic() + 8 * STALL_AFTER
        while time.monotonic() < idle_until:
            assert producer.get(f"/v1/subscriptions/{sub['id']}")["id"] == sub["id"]

        rejoins = [r.getMessage() for r in caplog.records if r.threadName == "idle-probe" and "rejoining" in r.getMessage()]
        assert rejoins == []
        assert _probe_behind(db, probes) == 0
    finally:
        stop.set()
        thread.join(timeout=15)
        names = [p.name for p in probes]
        db.execute("DELETE FROM projection_positions WHERE projection = ANY(%s)", (names,))
        db.execute("DELETE FROM projection_versions WHERE projection = ANY(%s)", (names,))
        db.close()
