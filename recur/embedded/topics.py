"""Topic provisioning and offset inspection helpers (kafka-python, works with Tansu).

Topics are created explicitly rather than relying on broker auto-creation so that the
partition count (which bounds consumer parallelism and fixes key -> partition mapping) is
under our control. :func:`ensure_topics` reports which topics it had to create, which lets
a supervisor notice that a memory-only broker restarted empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

__all__ = ["ensure_topics", "topic_end_offsets", "topic_partitions"]

_log = logging.getLogger(__name__)

_METADATA_TIMEOUT_S = 10.0
_TOPIC_ALREADY_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
_CLIENT_ID = "recur-admin"


def _admin(bootstrap_servers: str) -> KafkaAdminClient:
    """Short-lived admin client; cheap against a local broker and avoids stale metadata."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=_CLIENT_ID)


def _partition_counts(topics: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Map topic name -> number of healthy partitions with a leader, from describe_topics."""
    counts: dict[str, int] = {}
    for topic in topics:
        if topic.get("error_code", 0) != 0:
            continue
        parts = topic.get("partitions") or []
        if parts and all(p.get("error_code", 0) == 0 and p.get("leader_id", -1) >= 0 for p in parts):
            counts[topic["name"]] = len(parts)
    return counts


def ensure_topics(
    bootstrap_servers: str,
    names: list[str],
    partitions: int = 6,
    timeout: float = _METADATA_TIMEOUT_S,
) -> list[str]:
    """Create the missing topics among ``names`` (replication factor 1).

    Returns the names this call created, in the order given; an empty list means all
    already existed. Tolerates concurrent creators (TOPIC_ALREADY_EXISTS). Blocks until the
    broker's metadata lists every name with leaders for all partitions, so producers and
    consumers started right after do not race topic creation.
    """
    from kafka.errors import KafkaTimeoutError, for_code

    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    admin = _admin(bootstrap_servers)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        created: list[str] = []
        if missing:
            result = admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": 1} for name in missing},
                raise_errors=False,
            )
            for topic in result["topics"]:
                code = topic["error_code"]
                if code == 0:
                    created.append(topic["name"])
                elif code != _TOPIC_ALREADY_EXISTS:
                    raise for_code(code)(f"creating topic {topic['name']!r}: {topic.get('error_message')}")
            created = [name for name in wanted if name in set(created)]
            if created:
                _log.info("created topics %s with %d partitions", created, partitions)

        deadline = time.monotonic() + timeout
        counts: dict[str, int] = {}
        while True:
            counts = _partition_counts(admin.describe_topics(wanted))
            if all(name in counts for name in wanted):
                break
            if time.monotonic() >= deadline:
                pending = [name for name in wanted if name not in counts]
                raise KafkaTimeoutError(f"topics not visible in metadata after {timeout:.0f}s: {pending}")
            time.sleep(0.1)
        for name in wanted:
            if counts[name] != partitions:
                _log.warning("topic %s has %d partitions, wanted %d", name, counts[name], partitions)
        return created
    finally:
        admin.close()


def recreate_topics(bootstrap_servers: str, names: list[str], partitions: int = 6, attempts: int = 10) -> None:
    """Delete and create `names` until each has `partitions` partitions.

    A restarted, empty broker may auto-create a topic with its default partition count as soon as any
    client asks for its metadata (tansu does, whatever the client asked), which would change where
    keys land. Deleting and creating can race such clients again, hence the loop.
    """
    from kafka.errors import KafkaError

    for _ in range(attempts):
        counts = {name: topic_partitions(bootstrap_servers, name) for name in names}
        wrong = [name for name, count in counts.items() if count != partitions]
        if not wrong:
            return
        admin = _admin(bootstrap_servers)
        try:
            existing = [name for name in wrong if counts[name] > 0]
            if existing:
                _log.warning("recreating topics %s: partition counts %s, wanted %d", existing, counts, partitions)
                try:
                    admin.delete_topics(existing)
                except KafkaError as error:
                    _log.warning("deleting topics failed: %s", error)
        finally:
            admin.close()
        time.sleep(0.3)
        ensure_topics(bootstrap_servers, wrong, partitions)
    raise RuntimeError(f"could not give topics {names} {partitions} partitions")


def topic_partitions(bootstrap_servers: str, name: str) -> int:
    """Number of partitions of ``name`` (0 if the topic does not exist)."""
    admin = _admin(bootstrap_servers)
    try:
        return _partition_counts(admin.describe_topics([name])).get(name, 0)
    finally:
        admin.close()


def topic_end_offsets(bootstrap_servers: str, names: list[str]) -> dict[tuple[str, int], int]:
    """End offset (offset of the next record) of every partition of ``names``.

    Uses a group-less consumer, so nothing is committed and no rebalance is triggered.
    Raises ``ValueError`` for a topic the broker does not know.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="recur-offsets",
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        tps: list[TopicPartition] = []
        for name in dict.fromkeys(names):
            parts = consumer.partitions_for_topic(name)
            if not parts:
                raise ValueError(f"unknown topic {name!r} on {bootstrap_servers}")
            tps.extend(TopicPartition(name, p) for p in sorted(parts))
        if not tps:
            return {}
        offsets = consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in offsets.items()}
    finally:
        consumer.close()
