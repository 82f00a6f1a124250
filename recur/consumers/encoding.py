"""Stored events -> public event messages, one shape for Kafka and for rebuilds from the store.

Secrets never leave: API-key and subscriber-token hashes and the gateway's card token are dropped
from the public data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from recur.consumers.topics import TOPIC_OF_AGGREGATE

PRIVATE_FIELDS = frozenset(
    {"api_key_hash", "subscriber_token_hash", "originator_id", "originator_version", "timestamp", "originator_topic"}
)


@dataclass(frozen=True)
class PublicEvent:
    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes
    body: dict[str, Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "token"}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def event_name(topic: str) -> tuple[str, str]:
    """('Subscription', 'ChargeSucceeded') from 'recur.domain.subscription:Subscription.ChargeSucceeded'."""
    qualname = topic.split(":", 1)[1]
    aggregate, _, name = qualname.rpartition(".")
    return aggregate.rsplit(".", 1)[-1], name


class EventEncoder:
    """Turns notifications into public events. `producer_of(aggregate_id)` finds the tenant of
    aggregates whose later events do not repeat it."""

    def __init__(self, mapper: Mapper[UUID], producer_of: Callable[[UUID], str | None]) -> None:
        self.mapper = mapper
        self.producer_of = producer_of
        self.producers: dict[UUID, str] = {}

    def encode(self, notification: Notification) -> PublicEvent:
        domain_event = self.mapper.to_domain_event(notification)
        aggregate, name = event_name(notification.topic)
        aggregate_id = domain_event.originator_id
        state = dict(domain_event.__dict__)
        actor = state.pop("actor", None)
        data = {k: _jsonable(v) for k, v in state.items() if k not in PRIVATE_FIELDS}
        producer_id = self._producer_id(aggregate, aggregate_id, state)
        recorded_at = domain_event.timestamp.isoformat()
        occurred_at = data.get("at") or data.get("started_at") or recorded_at
        ce_type = f"recur.{aggregate.lower()}.{name}"
        ce_id = f"{aggregate_id}:{domain_event.originator_version}"
        body: dict[str, Any] = {
            "id": ce_id,
            "type": ce_type,
            "aggregate": aggregate.lower(),
            "aggregate_id": str(aggregate_id),
            "producer_id": producer_id,
            "version": domain_event.originator_version,
            "occurred_at": occurred_at,
            "recorded_at": recorded_at,
            "actor": actor,
            "notification_id": notification.id,
            "data": data,
        }
        if aggregate == "Subscription":
            body["subscription_id"] = str(aggregate_id)
        value = json.dumps(body, separators=(",", ":")).encode()
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", ce_id.encode()),
            ("ce_type", ce_type.encode()),
            ("ce_source", b"recur"),
            ("ce_time", recorded_at.encode()),
            ("ce_subject", str(aggregate_id).encode()),
            ("content-type", b"application/json"),
            ("recur_notification_id", str(notification.id).encode()),
        ]
        return PublicEvent(TOPIC_OF_AGGREGATE[aggregate], str(aggregate_id).encode(), headers, value, body)

    def _producer_id(self, aggregate: str, aggregate_id: UUID, state: dict[str, Any]) -> str | None:
        if aggregate == "Producer":
            return str(aggregate_id)
        if "producer_id" in state:
            self.producers[aggregate_id] = str(state["producer_id"])
        if aggregate_id not in self.producers:
            found = self.producer_of(aggregate_id)
            if found is None:
                return None
            self.producers[aggregate_id] = found
        return self.producers[aggregate_id]


def producer_lookup(recorder: Any, mapper: Mapper[UUID]) -> Callable[[UUID], str | None]:
    """Read an aggregate's first event to learn its producer."""

    def producer_of(aggregate_id: UUID) -> str | None:
        stored = recorder.select_events(aggregate_id, lte=1)
        if not stored:
            return None
        first = mapper.to_domain_event(stored[0])
        value = getattr(first, "producer_id", None)
        return str(value) if value is not None else None

    return producer_of
