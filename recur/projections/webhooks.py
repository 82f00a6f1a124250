"""The webhooks consumer group (`recur-webhooks`): decides which endpoint receives which subscription event.

Applied like a projection (same runner, version guard, dead letters), in a consumer group of its own, and never
rebuilt: its rows are decisions to send, not a view. Each decision is a row of `webhook_deliveries`, unique per
(endpoint, event), so a redelivered event or a second consumer decides nothing new; the deliverer
(recur.webhook_deliverer) sends the rows.

**Which endpoints.** An event goes to every enabled endpoint of its producer whose filter takes its type and that was
created before it: before it in the event store's own order (notification ids), not in the order this group happens
to read the two topics. The group keeps endpoint routes from the catalog topic in its own table (`webhook_routes`)
rather than reading the read model of another group, which may be behind or ahead; and it keeps a day of the
subscription events it saw (`webhook_events`). When it learns of an endpoint's creation, enabling or new filter only
after events recorded later than that change (the catalog partition was behind the subscription one), it decides
those events then; when it learns of a disabling, deletion or narrower filter late, it takes back the decisions it
made in between that no attempt has used yet. Either way the outcome is the one the event store's order gives.

Disabling or deleting an endpoint does not touch deliveries of earlier events here: the deliverer reads the endpoint
from the event store before each attempt and gives up on those of an endpoint that can no longer receive.
"""

from __future__ import annotations

from typing import Any

from recur.contract.events import CONTRACT
from recur.contract.topics import CATALOG, SUBSCRIPTIONS
from recur.contract.webhook_types import webhook_type
from recur.projections.base import Projection, event_short_name

GROUP_ID = "recur-webhooks"
webhooks = Projection("webhooks", [SUBSCRIPTIONS, CATALOG], ["webhook_routes", "webhook_events", "webhook_deliveries"])

TAKES = "(cardinality(r.event_types) = 0 OR {type} = ANY(r.event_types))"
DELIVERY_COLUMNS = ("endpoint_id, producer_id, event_id, subscription_id, event_version, event_name, type, notification_id, "
                    "occurred_at, next_attempt_at")


# ------------------------------------------------------------------ subscription events: decide who receives each
def when_subscription_event(cur: Any, event: dict[str, Any]) -> None:
    producer_id = event.get("producer_id")
    if not producer_id:
        return  # no tenant known: no endpoint can be its
    name = event_short_name(event)
    facts = {
        "producer_id": producer_id, "event_id": f"{event['aggregate_id']}:{event['version']}", "subscription_id": event["aggregate_id"],
        "version": event["version"], "name": name, "type": webhook_type(name), "notification_id": event["notification_id"],
        "occurred_at": event["occurred_at"],
    }
    cur.execute(
        "INSERT INTO webhook_events (notification_id, producer_id, event_id, subscription_id, version, name, type, occurred_at) "
        "VALUES (%(notification_id)s, %(producer_id)s, %(event_id)s, %(subscription_id)s, %(version)s, %(name)s, %(type)s, "
        "%(occurred_at)s) ON CONFLICT (notification_id) DO NOTHING",
        facts,
    )
    cur.execute(
        f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) SELECT r.endpoint_id, r.producer_id, %(event_id)s, %(subscription_id)s, "
        "%(version)s, %(name)s, %(type)s, %(notification_id)s, %(occurred_at)s, %(occurred_at)s FROM webhook_routes r "
        "WHERE r.producer_id = %(producer_id)s AND r.enabled AND r.created_notification_id < %(notification_id)s AND "
        f"{TAKES.format(type='%(type)s')} ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        facts,
    )
    if name == "SubscriberErased":
        _forget_bodies(cur, event["aggregate_id"])


def _forget_bodies(cur: Any, subscription_id: str) -> None:
    """Every kept body shows the subscription, personal data included: drop them. One still to be sent is rendered
    again before its next attempt, from the event store, where the personal fields now read null."""
    cur.execute("UPDATE webhook_deliveries SET body = NULL WHERE subscription_id = %s AND body IS NOT NULL", (subscription_id,))


for _contract in CONTRACT.on_topic(SUBSCRIPTIONS):
    webhooks.on(_contract.name)(when_subscription_event)


# ------------------------------------------------------------------ endpoints: where events go
def _decide_later_events(cur: Any, endpoint_id: str, after: int) -> None:
    """Events recorded after `after` that this group saw before learning of the change at `after`, decided now."""
    cur.execute(
        f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) SELECT r.endpoint_id, r.producer_id, e.event_id, e.subscription_id, "
        "e.version, e.name, e.type, e.notification_id, e.occurred_at, e.occurred_at FROM webhook_routes r "
        "JOIN webhook_events e ON e.producer_id = r.producer_id AND e.notification_id > %s "
        f"WHERE r.endpoint_id = %s AND r.enabled AND e.notification_id > r.created_notification_id AND {TAKES.format(type='e.type')} "
        "ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        (after, endpoint_id),
    )


def _take_back_later_decisions(cur: Any, endpoint_id: str, after: int, only_untaken_types: bool = False) -> None:
    """Decisions about events recorded after the change at `after`, made before this group learnt of it, that no attempt
    has used: an endpoint disabled, deleted (all of them) or narrowed (those of types it no longer takes) had not
    received them."""
    condition = f"AND NOT {TAKES.format(type='d.type')}" if only_untaken_types else ""
    cur.execute(
        "DELETE FROM webhook_deliveries d USING webhook_routes r WHERE d.endpoint_id = %s AND r.endpoint_id = d.endpoint_id "
        f"AND d.notification_id > %s AND d.attempts = 0 AND d.status = 'pending' AND d.in_flight_until IS NULL {condition}",
        (endpoint_id, after),
    )


@webhooks.on("WebhookEndpointCreated")
def when_webhook_endpoint_created(cur: Any, event: dict[str, Any]) -> None:
    data = event["data"]
    cur.execute(
        "INSERT INTO webhook_routes (endpoint_id, producer_id, event_types, enabled, created_notification_id) "
        "VALUES (%s, %s, %s, true, %s) ON CONFLICT (endpoint_id) DO NOTHING",
        (event["aggregate_id"], data["producer_id"], list(data["event_types"]), event["notification_id"]),
    )
    _decide_later_events(cur, event["aggregate_id"], event["notification_id"])


@webhooks.on("WebhookEndpointUpdated")
def when_webhook_endpoint_updated(cur: Any, event: dict[str, Any]) -> None:
    changes = event["data"]["changes"]
    if "event_types" not in changes:
        return  # a new URL or description: nothing about who receives what
    cur.execute("UPDATE webhook_routes SET event_types = %s WHERE endpoint_id = %s", (list(changes["event_types"]), event["aggregate_id"]))
    _take_back_later_decisions(cur, event["aggregate_id"], event["notification_id"], only_untaken_types=True)
    _decide_later_events(cur, event["aggregate_id"], event["notification_id"])


@webhooks.on("WebhookEndpointEnabled")
def when_webhook_endpoint_enabled(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE webhook_routes SET enabled = true WHERE endpoint_id = %s", (event["aggregate_id"],))
    _decide_later_events(cur, event["aggregate_id"], event["notification_id"])


@webhooks.on("WebhookEndpointDisabled")
def when_webhook_endpoint_disabled(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE webhook_routes SET enabled = false WHERE endpoint_id = %s", (event["aggregate_id"],))
    _take_back_later_decisions(cur, event["aggregate_id"], event["notification_id"])


@webhooks.on("WebhookEndpointDeleted")
def when_webhook_endpoint_deleted(cur: Any, event: dict[str, Any]) -> None:
    _take_back_later_decisions(cur, event["aggregate_id"], event["notification_id"])
    cur.execute("DELETE FROM webhook_routes WHERE endpoint_id = %s", (event["aggregate_id"],))
