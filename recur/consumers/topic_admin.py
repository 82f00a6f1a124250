"""Topic administration, in one place for every Kafka (kafka-python; works with Apache Kafka and Tansu).

Topics are created explicitly rather than relying on broker auto-creation so that the
partition count (which bounds consumer parallelism and fixes key -> partition mapping) is
under our control. :func:`ensure_topics` reports which topics it had to create, which lets
the relay notice that a memory-only broker restarted empty.

Creating a missing topic is harmless anywhere. Deleting one is not: on a real cluster downstream
consumers would lose its history. So :func:`recreate_topics` is for the embedded, memory-only broker
alone (the relay calls it only when told the broker is that one); elsewhere a topic with the wrong
partition count is a :class:`TopicMismatchError` for an operator to resolve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

__all__ = [
    "TopicMismatchError",
    "TopicShape",
    "ensure_topics",
    "misshapen_topics",
    "recreate_topics",
    "topic_end_offsets",
    "topic_partitions",
]

_log = logging.getLogger(__name__)

_METADATA_TIMEOUT_S = 10.0
_TOPIC_ALREADY_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
_CLIENT_ID = "recur-admin"


@dataclass(frozen=True)
class TopicShape:
    """A topic whose partition count is not the one recur publishes with."""

    name: str
    partitions: int
    wanted: int

    def __str__(self) -> str:
        return f"{self.name} has {self.partitions} partitions, recur needs {self.wanted}"


class TopicMismatchError(Exception):
    """Topics exist with another partition count: keys would land elsewhere than where their history is.

    Never fixed by deleting topics outside the embedded broker; an operator decides.
    """

    def __init__(self, shapes: list[TopicShape]) -> None:
        self.shapes = shapes
        super().__init__(
            "; ".join(str(s) for s in shapes)
            + ". recur does not delete or recreate topics on a Kafka cluster (consumers would lose their history): "
            "run `recur kafka create-topics` to see every topic's state, and fix the topic (or point recur at another "
            "cluster) before starting the relay."
        )


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
    """Delete and create `names` until each has `partitions` partitions. For the embedded broker only.

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


def misshapen_topics(bootstrap_servers: str, names: list[str], partitions: int) -> list[TopicShape]:
    """The existing topics among `names` whose partition count is not `partitions` (missing ones are not listed)."""
    admin = _admin(bootstrap_servers)
    try:
        counts = _partition_counts(admin.describe_topics(list(dict.fromkeys(names))))
    finally:
        admin.close()
    return [TopicShape(name, counts[name], partitions) for name in dict.fromkeys(names) if name in counts and counts[name] != partitions]


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
