"""Events per second published to Kafka by the relay.

recur: `Relay.publish_batch()` in a loop until the log is drained, over a history of ~20k events
(subscriptions started and charged; see bench.workload.history_database). Each batch reads 500
notifications, decodes them together (the subscriptions' data keys with one query), encodes them as
public events, sends them, flushes, checks every acknowledged offset and records its position in
PostgreSQL.

baseline: a raw kafka-python KafkaProducer with the relay's settings (acks=all, linger 2 ms, one
request in flight) sending the same messages (same keys, headers and values, encoded beforehand)
to a topic with the same partition count on the same broker, flushed once at the end.
"""

from __future__ import annotations

from typing import Any

from bench.harness import Row, Stack, main, print_header, print_row, rate, result, scale
from bench.workload import history_database

EVENTS = 20_000
RAW_TOPIC = "bench.raw.v1"
BASELINE = "raw KafkaProducer (relay's settings) sending the same messages to the same broker, flushed at the end"


def producer_settings() -> dict[str, Any]:
    """The relay's KafkaProducer settings (recur.consumers.relay.Relay.connect)."""
    return {
        "acks": "all",
        "linger_ms": 2,
        "retries": 5,
        "enable_idempotence": False,
        "max_in_flight_requests_per_connection": 1,
        "allow_auto_create_topics": False,
        "max_block_ms": 10000,
        "compression_type": None,
    }


def encoded_messages(events: Any) -> list[Any]:
    """Every notification as the relay would publish it (done before timing the baseline)."""
    from recur.contract.encoding import EventEncoder, producer_lookup

    encoder = EventEncoder(events.mapper, producer_lookup(events.recorder, events.mapper))
    messages: list[Any] = []
    position = 0
    while notifications := events.recorder.select_notifications(position + 1, 2000):
        messages.extend(encoder.encode(n) for n in notifications)
        position = notifications[-1].id
    return messages


def raw_send(bootstrap: str, messages: list[Any]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="bench-raw", **producer_settings())
    try:
        producer.send(RAW_TOPIC, key=b"warm-up", value=b"{}").get(timeout=10)  # metadata and connection

        def send_all() -> None:
            for m in messages:
                producer.send(RAW_TOPIC, key=m.key, value=m.value, headers=m.headers)
            producer.flush(timeout=60)

        return rate(len(messages), send_all)
    finally:
        producer.close(timeout=5)


def run(stack: Stack) -> dict[str, Any]:
    from bench.harness import event_store
    from recur.consumers.relay import Relay
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import PARTITIONS
    from recur.db import Database

    url = history_database(stack, scale(EVENTS, 500))
    ensure_topics(stack.bootstrap, [RAW_TOPIC], PARTITIONS)
    events = event_store(url, 2)
    db = Database(url, 2)
    try:
        messages = encoded_messages(events)
        n = len(messages)
        size = sum(len(m.value) for m in messages) / n
        relay = Relay(events, db, stack.bootstrap, broker_is_embedded=True)
        relay.connect()
        try:

            def drain() -> None:
                while relay.publish_batch():
                    pass

            ours = rate(n, drain)
            published = relay.position()[0]
            assert published == messages[-1].body["notification_id"], (published, n)
        finally:
            relay.close()
        base = raw_send(stack.bootstrap, messages)
    finally:
        events.close()
        db.close()
    print_header("relay: events published per second", BASELINE)
    row = Row(f"relay publish_batch() loop, {n} events", ours, base)
    print_row(row)
    notes = [f"{n} events, average value {size:.0f} bytes plus 8 CloudEvents headers; batches of 500 (relay.BATCH)."]
    return result("relay", "Relay: events published to Kafka per second", "events/s", BASELINE, [row], notes)


if __name__ == "__main__":
    main(run)
