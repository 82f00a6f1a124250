"""Stored events -> public event messages, one shape for Kafka, rebuilds and the HTTP history.

`public_view(domain_event)` is what any reader outside the domain sees of an event: its public name and
type, its times, its actor and its data, serialised through the event's public schema (recur.contract's
declarations), so a field the domain adds is not published until it is declared, and secrets (API-key and
subscriber-token hashes, the gateway's card token) never are. `EventEncoder` wraps it in the Kafka message:
CloudEvents headers and the JSON envelope of recur.contract.envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from recur.contract.envelope import CONSTANT_HEADERS, HEADERS
from recur.contract.events import CONTRACT


@dataclass(frozen=True)
class PublicView:
    """An event as the contract publishes it (the envelope's fields but positions, and the data)."""

    name: str
    type: str
    aggregate: str
    aggregate_id: UUID
    version: int
    occurred_at: str
    recorded_at: str
    actor: dict[str, Any] | None
    data: dict[str, Any]


def public_view(domain_event: Any) -> PublicView:
    """Raises NotInContractError for an event class without a public schema, ContractViolationError for an
    event that lacks a field its schema promises."""
    contract = CONTRACT.of(domain_event)
    data = contract.dump(domain_event)
    recorded_at = domain_event.timestamp.isoformat()
    return PublicView(
        name=contract.name,
        type=contract.type,
        aggregate=contract.aggregate,
        aggregate_id=domain_event.originator_id,
        version=domain_event.originator_version,
        occurred_at=data.get("at") or data.get("started_at") or recorded_at,
        recorded_at=recorded_at,
        actor=getattr(domain_event, "actor", None),
        data=data,
    )


@dataclass(frozen=True)
class PublicEvent:
    """One Kafka message."""

    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes
    body: dict[str, Any]


class EventEncoder:
    """Turns notifications into public events. `producer_of(aggregate_id)` finds the tenant of
    aggregates whose later events do not repeat it."""

    def __init__(self, mapper: Mapper[UUID], producer_of: Callable[[UUID], str | None]) -> None:
        self.mapper = mapper
        self.producer_of = producer_of
        self.producers: dict[UUID, str] = {}

    def encode(self, notification: Notification) -> PublicEvent:
        return self.encode_event(self.mapper.to_domain_event(notification), notification.id)

    def encode_event(self, domain_event: Any, notification_id: int) -> PublicEvent:
        view = public_view(domain_event)
        aggregate_id = str(view.aggregate_id)
        body: dict[str, Any] = {
            "id": f"{aggregate_id}:{view.version}",
            "type": view.type,
            "aggregate": view.aggregate.lower(),
            "aggregate_id": aggregate_id,
            "producer_id": self._producer_id(view.aggregate, view.aggregate_id, domain_event),
            "version": view.version,
            "occurred_at": view.occurred_at,
            "recorded_at": view.recorded_at,
            "actor": view.actor,
            "notification_id": notification_id,
            "data": view.data,
        }
        if view.aggregate == "Subscription":
            body["subscription_id"] = aggregate_id
        headers = [(h.name, str(CONSTANT_HEADERS.get(h.name) or body[h.body_field or ""]).encode()) for h in HEADERS]
        value = json.dumps(body, separators=(",", ":")).encode()
        topic = CONTRACT.of(domain_event).topic
        return PublicEvent(topic, aggregate_id.encode(), headers, value, body)

    def _producer_id(self, aggregate: str, aggregate_id: UUID, domain_event: Any) -> str | None:
        if aggregate == "Producer":
            return str(aggregate_id)
        producer_id = getattr(domain_event, "producer_id", None)
        if producer_id is not None:
            self.producers[aggregate_id] = str(producer_id)
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
