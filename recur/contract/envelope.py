"""The message around every event's data: the JSON envelope and the CloudEvents headers.

The encoder builds both from these declarations (fields and headers in this order), and the AsyncAPI
document describes them from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import fields

from recur.contract.fields import UUID_PATTERN, PublicSchema, choice, instant, integer, nested, text
from recur.contract.topics import TOPIC_OF_AGGREGATE

AGGREGATES = tuple(name.lower() for name in TOPIC_OF_AGGREGATE)


class Actor(PublicSchema):
    """Who caused the event, and the HTTP request (if any) that did."""

    kind = choice(("admin", "producer", "subscriber", "system"), "What kind of caller.")
    id = text("The admin, producer or subscriber credential's owner id; `scheduler` for the billing scheduler.")
    request_id = text("The X-Request-Id of the HTTP call that caused the event; empty for system actions.")


class Envelope(PublicSchema):
    """The JSON value of every message."""

    id = text("`<aggregate_id>:<version>`, equal to the `ce_id` header: unique per event, stable across re-deliveries.")
    type = text("`recur.<aggregate>.<EventName>`, equal to the `ce_type` header; the last part is the event's name.")
    aggregate = choice(AGGREGATES, "What kind of aggregate the event belongs to.")
    aggregate_id = text("Id of the aggregate; the message key.", fmt="uuid", pattern=UUID_PATTERN)
    producer_id = text("The tenant (producer, i.e. seller) the aggregate belongs to; for producer events, the producer's own id.")
    version = integer("Version of the aggregate after this event: 1 for its first event, then +1 per event, no gaps.", minimum=1)
    occurred_at = instant("When it happened in the domain (`data.at`, else `data.started_at`, else `recorded_at`).")
    recorded_at = instant("When the event store recorded it (equal to the `ce_time` header).")
    actor = nested(Actor, "Who caused the event.")
    notification_id = integer("Position in recur's event-store notification log (the `recur_notification_id` header).", minimum=1)
    data = fields.Dict(required=True, metadata={"description": "The event's own fields (see each message)."})


class SubscriptionEnvelope(Envelope):
    """The JSON value of every message on recur.subscriptions.v1."""

    aggregate = choice(("subscription",), "Always `subscription` on this topic.")
    subscription_id = text("The subscription's id (= aggregate_id).", fmt="uuid", pattern=UUID_PATTERN)


class CatalogEnvelope(Envelope):
    """The JSON value of every message on recur.catalog.v1."""

    aggregate = choice(tuple(a for a in AGGREGATES if a != "subscription"), "What kind of catalog aggregate.")


ENVELOPES = {"Subscription": SubscriptionEnvelope}  # any other aggregate: CatalogEnvelope


@dataclass(frozen=True)
class Header:
    name: str
    body_field: str | None  # the envelope field it repeats
    description: str
    schema: dict[str, Any]


HEADERS = (
    Header("ce_specversion", None, "CloudEvents version.", {"const": "1.0"}),
    Header("ce_id", "id", "`<aggregate_id>:<version>`: unique per event and stable across re-deliveries; the deduplication key.",
           {"pattern": UUID_PATTERN[:-1] + ":[1-9][0-9]*$"}),
    Header("ce_type", "type", "`recur.<aggregate>.<EventName>`; the last dot-separated part is the event name.",
           {"pattern": r"^recur\.(" + "|".join(AGGREGATES) + r")\.[A-Z][A-Za-z]+$"}),
    Header("ce_source", None, "Always `recur`.", {"const": "recur"}),
    Header("ce_time", "recorded_at", "When the event store recorded the event (the body's `recorded_at`).", {"format": "date-time"}),
    Header("ce_subject", "aggregate_id", "The aggregate id, equal to the message key and the body's `aggregate_id`.",
           {"format": "uuid", "pattern": UUID_PATTERN}),
    Header("content-type", None, "The value's media type.", {"const": "application/json"}),
    Header("recur_notification_id", "notification_id", "Position of the event in recur's event-store notification log (decimal).",
           {"pattern": "^[1-9][0-9]*$"}),
)
CONSTANT_HEADERS = {h.name: h.schema["const"] for h in HEADERS if "const" in h.schema}
