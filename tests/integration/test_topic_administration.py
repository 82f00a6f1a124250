"""Topic administration: on a real Kafka cluster the relay never deletes or recreates a topic, and
`recur kafka create-topics` is how an operator provisions them (tested against a broker of their own)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from recur.consumers.topic_admin import TopicMismatchError, ensure_topics, topic_end_offsets, topic_partitions
from recur.contract.topics import CATALOG, DEAD_LETTERS, PROVISIONED, SUBSCRIPTIONS

pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files\\(\\) instead:DeprecationWarning")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    """A broker of this test's own, standing in for a Kafka cluster recur did not start."""
    from recur.embedded.broker import start_embedded_broker

    broker = start_embedded_broker(log_path=tmp_path / "broker.log")
    yield broker
    broker.stop()


@pytest.fixture
def own_database(postgres_server: Any) -> str:
    from recur.commands.event_store import open_event_store
    from recur.db import migrate
    from recur.embedded.postgres import create_database

    url: str = create_database(postgres_server.url, f"recur_topics_{uuid.uuid4().hex[:8]}")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    return url


def _publish_one(bootstrap: str, topic: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topic, key=b"someone-elses", value=b"history").get(timeout=10)
    finally:
        producer.close()


def test_on_a_kafka_cluster_a_topic_with_other_partitions_stops_the_relay_and_keeps_its_messages(cluster: Any, own_database: str) -> None:
    from recur.commands.event_store import open_event_store
    from recur.consumers.relay import Relay
    from recur.db import Database

    bootstrap = cluster.bootstrap_servers
    ensure_topics(bootstrap, [SUBSCRIPTIONS], partitions=3)
    ensure_topics(bootstrap, [CATALOG], partitions=6)
    _publish_one(bootstrap, SUBSCRIPTIONS)
    history = topic_end_offsets(bootstrap, [SUBSCRIPTIONS])
    events, db = open_event_store(own_database, 1), Database(own_database, 1)
    relay = Relay(events, db, bootstrap)  # not told the broker is the embedded one
    try:
        refused = r"recur\.subscriptions\.v1 has 3 partitions, recur needs 6.*run `recur kafka create-topics`"
        with pytest.raises(TopicMismatchError, match=refused):
            relay.connect()
        deadline = time.monotonic() + 20
        with pytest.raises(TopicMismatchError):  # a startup error, not a reconnect loop
            relay.run(lambda: time.monotonic() > deadline, own_database)
    finally:
        relay.close()
        events.close()
        db.close()
    assert topic_partitions(bootstrap, SUBSCRIPTIONS) == 3
    assert topic_end_offsets(bootstrap, [SUBSCRIPTIONS]) == history


def test_create_topics_creates_what_is_missing_and_reports_a_mismatch_without_touching_it(
    cluster: Any, recur_cli: Callable[..., Result]
) -> None:
    bootstrap = cluster.bootstrap_servers
    ensure_topics(bootstrap, [SUBSCRIPTIONS], partitions=3)
    _publish_one(bootstrap, SUBSCRIPTIONS)
    history = topic_end_offsets(bootstrap, [SUBSCRIPTIONS])

    result = recur_cli("kafka", "create-topics", env={"RECUR_KAFKA_BOOTSTRAP_SERVERS": bootstrap})

    assert result.exit_code == 1, result.output
    assert "mismatch  recur.subscriptions.v1 has 3 partitions, recur needs 6" in result.output
    assert f"created   {CATALOG} (6 partitions)" in result.output
    assert f"created   {DEAD_LETTERS} (6 partitions)" in result.output
    assert topic_partitions(bootstrap, CATALOG) == 6
    assert topic_partitions(bootstrap, SUBSCRIPTIONS) == 3
    assert topic_end_offsets(bootstrap, [SUBSCRIPTIONS]) == history


def test_create_topics_on_a_well_provisioned_cluster_reports_every_topic_ok(cluster: Any, recur_cli: Callable[..., Result]) -> None:
    env = {"RECUR_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers}
    assert recur_cli("kafka", "create-topics", env=env).exit_code == 0
    again = recur_cli("kafka", "create-topics", env=env)
    assert again.exit_code == 0, again.output
    assert [line.split()[0] for line in again.output.splitlines()] == ["ok"] * len(PROVISIONED)
