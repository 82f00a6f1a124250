"""Webhook endpoints and their deliveries as the API answers them: the aggregate (create, read, change) and read-model
rows (lists) alike. The signing secret appears only in the answers that made it (create, rotate-secret)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.domain.webhooks import DISABLED_REASONS, STATUSES
from recur.http.representations.kit import instant, page_of, representation, text, uuid, version
from recur.webhooks.deliveries import STATUSES as DELIVERY_STATUSES

EVENT_TYPES = "the types it receives (`subscription.<event name in snake_case>`); empty: every type, including types added later"


@representation
class WebhookEndpointView(Schema):
    id = uuid()
    producer_id = uuid()
    url = text("where deliveries are POSTed")
    event_types = fields.List(fields.String(), metadata={"description": EVENT_TYPES})
    description = text("the producer's note", allow_none=True)
    status = text("disabled: it receives nothing until enabled again", validate=validate.OneOf(STATUSES))
    disabled_reason = text("producer: its producer disabled it; failing: recur did, after 5 days of failed deliveries",
                           allow_none=True, validate=validate.OneOf(DISABLED_REASONS))
    created_at = instant("the clock's time when it was created: it receives the events recorded after it")
    previous_secret_valid_until = instant("after a rotation, until when deliveries are also signed with the previous secret",
                                          allow_none=True)
    version = version()


@representation
class WebhookEndpointWithSecretView(WebhookEndpointView):
    secret = text("the signing secret (`whsec_` + base64 of the HMAC key): shown only in this answer; keep it")


@representation
class WebhookDeliveryView(Schema):
    id = text("the delivery's id (for retry)")
    webhook_id = text("the `webhook-id` header: the event's id (`<subscription id>:<version>`), the same on every attempt")
    type = text("e.g. subscription.charge_failed")
    subscription_id = uuid()
    event_version = fields.Integer(metadata={"description": "the subscription's version after the event"})
    status = text("pending: still to be tried (or being tried); succeeded: answered 2xx; failed: every attempt failed, or its "
                  "endpoint was disabled or deleted", validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(metadata={"description": "attempts made so far"})
    last_response_status = fields.Integer(allow_none=True, metadata={"description": "the HTTP status of the last answer; null: none"})
    last_error = text("why the last attempt failed", allow_none=True)
    last_attempt_at = instant("the clock's time of the last attempt", allow_none=True)
    next_attempt_at = instant("when it is tried next, on the clock (null once it succeeded or failed)", allow_none=True)
    created_at = instant("when it was decided")


WebhookEndpointPageView = page_of(WebhookEndpointView, "WebhookEndpointPageView")
WebhookDeliveryPageView = page_of(WebhookDeliveryView, "WebhookDeliveryPageView")
