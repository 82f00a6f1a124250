"""Which endpoint receives which event follows the event store's order, not the order in which the recur-webhooks group
happens to read its two topics: the catalog topic's partition (endpoints) may be behind or ahead of the subscriptions'.

The group's handlers are applied here directly, in the database of the session, to events made for the test and
delivered out of order on purpose. They carry notification ids far above the session's and a partition no topic has,
so the running consumers' positions are untouched, and attempts dated 2099, so no deliverer or clock advance takes them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from recur.contract.topics import CATALOG, SUBSCRIPTIONS
from recur.projections.base import Delivery, apply_events
from recur.projections.webhooks import webhooks

Running = Any
FAR = "2099-01-01T00:00:00+00:00"
PARTITION = 999


class Story:
    """Events of one producer, one subscription and one endpoint, numbered as the event store would have stored them."""

    def __init__(self, recur: Running) -> None:
        self.recur = recur
        self.base = 10**15 + random.randrange(10**12)
        self.producer_id, self.endpoint_id, self.subscription_id = (str(uuid.uuid4()) for _ in range(3))
        self.endpoint_version = 0

    def subscription_event(self, position: int, version: int, name: str = "ChargeSucceeded", producer_id: str | None = None) -> Delivery:
        return (SUBSCRIPTIONS, PARTITION, {
            "type": f"recur.subscription.{name}", "aggregate_id": self.subscription_id, "version": version,
            "notification_id": self.base + position, "occurred_at": FAR, "producer_id": producer_id or self.producer_id, "data": {}})

    def endpoint_event(self, position: int, name: str, **data: Any) -> Delivery:
        self.endpoint_version += 1
        return (CATALOG, PARTITION, {
            "type": f"recur.webhookendpoint.{name}", "aggregate_id": self.endpoint_id, "version": self.endpoint_version,
            "notification_id": self.base + position, "occurred_at": FAR, "producer_id": self.producer_id, "data": data})

    def created(self, position: int, event_types: list[str] | None = None) -> Delivery:
        return self.endpoint_event(position, "WebhookEndpointCreated", producer_id=self.producer_id, url="https://example.com/",
                                   event_types=event_types or [], description=None, secret_id="s", created_at=FAR)

    def apply(self, *events: Delivery) -> None:
        with self.recur.services.db.transaction() as cur:
            apply_events(cur, webhooks, list(events))

    def decided(self) -> list[str]:
        """The versions of the subscription's events the endpoint is to receive."""
        rows = self.recur.services.db.fetchall(
            "SELECT event_version FROM webhook_deliveries WHERE endpoint_id = %s ORDER BY event_version", (self.endpoint_id,))
        return [f"v{version}" for (version,) in rows]

    def forget(self) -> None:
        db = self.recur.services.db
        db.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = %s", (self.endpoint_id,))
        db.execute("DELETE FROM webhook_routes WHERE endpoint_id = %s", (self.endpoint_id,))
        db.execute("DELETE FROM webhook_events WHERE producer_id = %s", (self.producer_id,))
        db.execute("DELETE FROM projection_positions WHERE projection = 'webhooks' AND partition = %s", (PARTITION,))


@pytest.fixture
def story(recur: Running) -> Iterator[Story]:
    told = Story(recur)
    yield told
    told.forget()


def test_an_endpoint_learnt_of_after_a_later_event_still_receives_it_and_never_an_earlier_one(story: Story) -> None:
    before, after = story.subscription_event(5, 1, "SubscriptionStarted"), story.subscription_event(15, 2)
    story.apply(before, after)  # both seen before the endpoint's creation, which was recorded between them
    story.apply(story.created(10))
    assert story.decided() == ["v2"]


def test_an_endpoint_learnt_of_first_receives_what_comes_after_it(story: Story) -> None:
    story.apply(story.created(10))
    story.apply(story.subscription_event(15, 1, "SubscriptionStarted"), story.subscription_event(16, 2))
    story.apply(story.subscription_event(16, 2))  # delivered again: nothing new
    assert story.decided() == ["v1", "v2"]


def test_a_disabling_learnt_late_takes_back_what_was_decided_about_later_events(story: Story) -> None:
    story.apply(story.created(10))
    story.apply(story.subscription_event(20, 1, "SubscriptionStarted"), story.subscription_event(30, 2))
    assert story.decided() == ["v1", "v2"]
    story.apply(story.endpoint_event(25, "WebhookEndpointDisabled", reason="producer", failing_since=None, at=FAR))
    assert story.decided() == ["v1"]  # recorded before the disabling: its attempt will find the endpoint disabled
    story.apply(story.subscription_event(40, 3))
    assert story.decided() == ["v1"]
    story.apply(story.endpoint_event(50, "WebhookEndpointEnabled", at=FAR), story.subscription_event(60, 4))
    assert story.decided() == ["v1", "v4"]


def test_a_new_filter_applies_to_the_events_recorded_after_it_whenever_it_is_learnt(story: Story) -> None:
    story.apply(story.created(10))
    story.apply(story.subscription_event(20, 1, "SubscriptionStarted"), story.subscription_event(30, 2),
                story.subscription_event(31, 3, "Cancelled"))
    story.apply(story.endpoint_event(25, "WebhookEndpointUpdated", changes={"event_types": ["subscription.cancelled"]}, at=FAR))
    assert story.decided() == ["v1", "v3"]
    story.apply(story.endpoint_event(26, "WebhookEndpointUpdated", changes={"event_types": []}, at=FAR))
    assert story.decided() == ["v1", "v2", "v3"]  # widened again, from a point before v2: v2 is decided after all


def test_another_producers_events_are_never_decided_for_the_endpoint(story: Story) -> None:
    story.apply(story.created(10))
    story.apply(story.subscription_event(20, 1, "SubscriptionStarted", producer_id=str(uuid.uuid4())))
    assert story.decided() == []
