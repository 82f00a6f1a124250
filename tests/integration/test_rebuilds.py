"""Read models rebuilt from the event store equal the ones fed through Kafka."""

from __future__ import annotations

from typing import Any

from recur_api import Api, flask_call

from recur.projections.rebuild import differences, rebuild
from recur.projections.registry import CONSUMED, PROJECTIONS

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


def test_the_rebuild_command_shows_progress_and_status_reports_no_lag_once_caught_up(recur: Any, database_url: str) -> None:
    import os
    import subprocess
    import sys

    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    producer.subscribe(producer.new_plan()["id"])
    recur.caught_up()
    env = {**os.environ, "RECUR_DATABASE_URL": database_url, "RECUR_MASTER_KEY": recur.services.settings.master_key}
    rebuilt = subprocess.run([sys.executable, "-m", "recur.cli", "projections", "rebuild", "subscriptions", "sales"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt 2 projection(s)" in rebuilt.stdout
    assert "rebuilding subscriptions, sales" in rebuilt.stdout + rebuilt.stderr
    recur.caught_up()
    status = subprocess.run([sys.executable, "-m", "recur.cli", "projections", "status"], env=env, capture_output=True, text=True,
                            timeout=60)
    lines = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:]}
    assert set(lines) == set(CONSUMED)  # the read models and the notifier
    assert all(values[0] == "0" for values in lines.values()), status.stdout
    unknown = subprocess.run([sys.executable, "-m", "recur.cli", "projections", "rebuild", "nope"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode != 0 and "choose from" in unknown.stderr
