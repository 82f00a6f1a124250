"""A subscription's past, for auditors: its events in order (who did what, when) and its state at any
instant, rebuilt from the event store. Reads of the store itself, never of read models.

An event's instant is the moment it took effect in the subscription's own time (`at`, or `started_at` for
the first), which the sandbox clock may have moved; `recorded_at` is when it was stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from recur.commands.app import NotFoundError
from recur.commands.services import Services
from recur.domain.subscription import Subscription

# Never shown: credential hashes and the gateway's card token stay inside the store (the envelope's own
# fields are the entry's, not its data's).
SECRET_FIELDS = frozenset({"api_key_hash", "subscriber_token_hash", "token"})
ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "actor"})


class NotYetStartedError(NotFoundError):
    """The subscription did not exist yet at the instant asked about."""


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, str] | None
    request_id: str | None
    data: dict[str, Any]


def subscription_history(s: Services, subscription: Subscription) -> list[HistoryEntry]:
    """Every event of a subscription the caller may see, oldest first."""
    return [_entry(event) for event in _events(s, subscription.id)]


def subscription_as_of(s: Services, subscription: Subscription, moment: datetime) -> Subscription:
    """The subscription as it was at `moment`: its events up to that instant, replayed."""
    version = None
    for event in _events(s, subscription.id):
        if _occurred_at(event) > moment:
            break
        version = event.originator_version
    if version is None:
        raise NotYetStartedError(str(subscription.id))
    past: Subscription = s.events.load(subscription.id, Subscription, version=version)
    return past


def _events(s: Services, aggregate_id: UUID) -> list[Any]:
    return [s.events.mapper.to_domain_event(stored) for stored in s.events.recorder.select_events(aggregate_id)]


def _occurred_at(event: Any) -> datetime:
    moment: datetime = getattr(event, "at", None) or getattr(event, "started_at", None) or event.timestamp
    return moment


def _entry(event: Any) -> HistoryEntry:
    actor = getattr(event, "actor", None)
    data = {name: _plain(value) for name, value in event.__dict__.items() if name not in ENVELOPE_FIELDS | SECRET_FIELDS}
    return HistoryEntry(
        version=event.originator_version,
        type=f"recur.subscription.{type(event).__name__}",
        occurred_at=_occurred_at(event),
        recorded_at=event.timestamp,
        actor={"kind": actor["kind"], "id": actor["id"]} if actor else None,
        request_id=actor.get("request_id") if actor else None,
        data=data,
    )


def _plain(value: Any) -> Any:
    """JSON's own types: instants and dates in ISO 8601, ids as text, secrets left out at any depth."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
