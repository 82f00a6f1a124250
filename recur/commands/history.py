"""An aggregate's past, for auditors: the events of a subscription, product or plan in order (who did what,
when), and a subscription's state at any instant, rebuilt from the event store. Reads of the store itself,
never of read models.

An event's instant is the moment it took effect in the subscription's own time (`at`, or `started_at` for
the first), which the sandbox clock may have moved; `recorded_at` is when it was stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from recur.commands.event_store import NotFoundError
from recur.commands.services import Services
from recur.contract.encoding import public_view
from recur.domain.personal_data import personal_paths
from recur.domain.subscription import Subscription


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
    erased: bool = False  # the event carried personal data since erased (its fields read null)


def subscription_history(services: Services, subscription: Subscription) -> list[HistoryEntry]:
    """Every event of a subscription the caller may see, oldest first; those that carried personal data say so once
    the subscriber is erased."""
    entries = aggregate_history(services, subscription.id)
    if not subscription.erased:
        return entries
    return [replace(entry, erased=bool(personal_paths(entry.type.rsplit(".", 1)[-1]))) for entry in entries]


def aggregate_history(services: Services, aggregate_id: UUID) -> list[HistoryEntry]:
    """Every event of an aggregate (a subscription, product, plan...), oldest first. Load the aggregate first
    through whatever checks the caller may see it: this reads any id."""
    return [_entry(event) for event in _events(services, aggregate_id)]


def subscription_as_of(services: Services, subscription: Subscription, moment: datetime) -> Subscription:
    """The subscription as it was at `moment`: its events up to that instant, replayed."""
    version = None
    for event in _events(services, subscription.id):
        if _occurred_at(event) > moment:
            break
        version = event.originator_version
    if version is None:
        raise NotYetStartedError(str(subscription.id))
    past: Subscription = services.events.load(subscription.id, Subscription, version=version)
    past.erased = subscription.erased  # an erasure reaches every past state: the data key is gone for all of them
    return past


def subscription_after_event(services: Services, subscription_id: str, version: int) -> tuple[Subscription, HistoryEntry]:
    """The subscription as it was right after its event `version`, and that event as the contract shows it (for a webhook
    about that event, however much later it is sent)."""
    subscription: Subscription = services.events.load(subscription_id, Subscription, version=version)
    stored = services.events.recorder.select_events(subscription.id, gt=version - 1, lte=version)
    return subscription, _entry(services.events.mapper.to_domain_event(stored[0]))


def _events(services: Services, aggregate_id: UUID) -> list[Any]:
    return [services.events.mapper.to_domain_event(stored) for stored in services.events.recorder.select_events(aggregate_id)]


def _occurred_at(event: Any) -> datetime:
    moment: datetime = getattr(event, "at", None) or getattr(event, "started_at", None) or event.timestamp
    return moment


def _entry(event: Any) -> HistoryEntry:
    """The event as the public contract shows it (the same data as its Kafka message: no secrets)."""
    view = public_view(event)
    actor = view.actor
    return HistoryEntry(
        version=view.version,
        type=view.type,
        occurred_at=datetime.fromisoformat(view.occurred_at),
        recorded_at=event.timestamp,
        actor={"kind": actor["kind"], "id": actor["id"]} if actor else None,
        request_id=actor.get("request_id") if actor else None,
        data=view.data,
    )
