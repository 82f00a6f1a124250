"""Webhook endpoints: a producer's URLs that receive its subscriptions' events as signed POSTs (producer; admin with
`producer_id`), and their deliveries. The consumer group recur-webhooks decides deliveries; the deliverer sends them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from marshmallow import Schema, ValidationError, fields, validate

from recur.commands import webhooks as commands
from recur.commands.versions import Expected
from recur.contract.webhook_types import webhook_event_types
from recur.domain.webhooks import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH, STATUSES, WebhookEndpoint, check_url
from recur.http.context import services
from recur.http.errors import ApiError, not_found
from recur.http.fields import Text
from recur.http.pagination import encode_cursor
from recur.http.query import MAX_BIGINT, SERIAL, WebhookDeliveriesQuery, WebhookEndpointsQuery, invalid
from recur.http.representations.webhooks import (
    WebhookDeliveryPageView,
    WebhookDeliveryView,
    WebhookEndpointPageView,
    WebhookEndpointView,
    WebhookEndpointWithSecretView,
)
from recur.http.routes import PRODUCER, Caller, Extended, route
from recur.projections.queries import webhooks as read_models
from recur.webhooks import deliveries
from recur.webhooks.address_policy import AddressRefusedError, resolve_target

bp = Blueprint("webhooks", __name__)
TAG = "Webhooks"
URL = ("https URL that receives the deliveries; it must resolve to public addresses only (in the sandbox, http and loopback "
       "are allowed too). Checked now and again before every delivery.")


def event_types() -> fields.List:
    known = webhook_event_types()
    return fields.List(fields.String(validate=validate.OneOf(known, error="must be one of {choices}")),
                       validate=validate.Length(max=len(known)),
                       metadata={"description": "the types to receive, e.g. subscription.cancelled; empty or absent: every type"})


class WebhookEndpointSchema(Schema):
    url = Text(required=True, max_length=MAX_URL_LENGTH, metadata={"description": URL, "format": "uri"})
    event_types = event_types()
    description = Text(max_length=MAX_DESCRIPTION_LENGTH, allow_none=True, load_default=None)
    producer_id = fields.UUID(load_default=None, metadata={"description": "admin credentials only: for which producer"})


class WebhookEndpointChangesSchema(Schema):
    url = Text(max_length=MAX_URL_LENGTH, metadata={"description": URL, "format": "uri"})
    event_types = event_types()
    description = Text(max_length=MAX_DESCRIPTION_LENGTH, allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "disabled: nothing is sent until it is enabled again (its pending deliveries fail when they fall due)"})


def checked_url(url: str) -> None:
    """Where the URL points, by the address policy: a 422 naming `url` when recur may not send there."""
    check_url(url)  # its shape first (a RuleViolationError names `url` too)
    try:
        resolve_target(url, services().settings.sandbox)
    except AddressRefusedError as refused:
        raise ValidationError({"url": [str(refused)]}) from None


def with_secret(endpoint: WebhookEndpoint, secret: str) -> Extended:
    return Extended(endpoint, secret=secret)


@route(bp.post, "/v1/webhook-endpoints", TAG, "Register a URL to receive subscription events as signed webhooks", roles=PRODUCER,
       body=WebhookEndpointSchema, response=WebhookEndpointWithSecretView, status=201, location="/v1/webhook-endpoints/{id}",
       etag=True, description="Each subscription event recorded afterwards (of the types asked for) is POSTed to `url` as "
       "Standard Webhooks say: headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (HMAC-SHA256 with `secret`); "
       "retried for about a day when not answered 2xx within 15 s. `secret` is shown only here. Admin credentials must name "
       "the producer with `producer_id`.")
def create_webhook_endpoint(caller: Caller, body: dict[str, Any]) -> Extended:
    producer_id = caller.producer_id or (str(body["producer_id"]) if body.get("producer_id") else None)
    if producer_id is None:
        raise invalid("producer_id", "is required with admin credentials")
    checked_url(body["url"])
    endpoint, secret = commands.create_webhook_endpoint(services(), producer_id, body, caller.actor())
    return with_secret(endpoint, secret)


@route(bp.get, "/v1/webhook-endpoints", TAG, "List webhook endpoints", roles=PRODUCER, query=WebhookEndpointsQuery,
       response=WebhookEndpointPageView, description="Oldest first. The admin sees every producer's, or one producer's with "
       "`producer_id`.")
def list_webhook_endpoints(caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    producer_id = query.get("producer_id")
    if caller.producer_id:
        if producer_id not in (None, caller.producer_id):
            return {"items": [], "next_cursor": None}  # another tenant's: none of them are yours
        producer_id = caller.producer_id
    page = read_models.list_webhook_endpoints(services().db, producer_id, query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.get, "/v1/webhook-endpoints/<endpoint_id>", TAG, "Read a webhook endpoint", roles=PRODUCER, response=WebhookEndpointView,
       etag=True)
def get_webhook_endpoint(endpoint_id: str, caller: Caller) -> WebhookEndpoint:
    return commands.visible_webhook_endpoint(services(), endpoint_id, caller.scope)


@route(bp.patch, "/v1/webhook-endpoints/<endpoint_id>", TAG, "Change a webhook endpoint, or enable or disable it", roles=PRODUCER,
       body=WebhookEndpointChangesSchema, response=WebhookEndpointView, etag=True, if_match=True,
       description="Any of `url`, `event_types`, `description` and `status`. A new filter applies to events recorded "
       "afterwards; `status: disabled` stops every delivery (pending ones fail when they fall due) until `status: enabled`, "
       "after which the "
       "events recorded from then on are sent.")
def update_webhook_endpoint(endpoint_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> WebhookEndpoint:
    if "url" in body:
        checked_url(body["url"])
    return commands.update_webhook_endpoint(services(), endpoint_id, caller.scope, body, caller.actor(), expected)


@route(bp.delete, "/v1/webhook-endpoints/<endpoint_id>", TAG, "Delete a webhook endpoint", roles=PRODUCER, status=204, media=(),
       description="Nothing more is sent to it, not even retries; it is gone (404) afterwards.")
def delete_webhook_endpoint(endpoint_id: str, caller: Caller) -> Response:
    commands.delete_webhook_endpoint(services(), endpoint_id, caller.scope, caller.actor())
    return Response(status=204)


@route(bp.post, "/v1/webhook-endpoints/<endpoint_id>/rotate-secret", TAG, "Replace the signing secret", roles=PRODUCER,
       response=WebhookEndpointWithSecretView, etag=True,
       description="A new `secret`, shown only in this answer. For 24 hours (on the clock) deliveries carry two signatures, "
       "one per secret, so the receiver can switch to the new one without missing a delivery.")
def rotate_webhook_secret(endpoint_id: str, caller: Caller) -> Extended:
    endpoint, secret = commands.rotate_webhook_secret(services(), endpoint_id, caller.scope, caller.actor())
    return with_secret(endpoint, secret)


@route(bp.get, "/v1/webhook-endpoints/<endpoint_id>/deliveries", TAG, "List an endpoint's deliveries", roles=PRODUCER,
       query=WebhookDeliveriesQuery, response=WebhookDeliveryPageView, description="Newest first; `status` narrows the list.")
def list_deliveries(endpoint_id: str, caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    endpoint = commands.visible_webhook_endpoint(services(), endpoint_id, caller.scope)
    page = read_models.list_deliveries(services().db, str(endpoint.id), query.get("status"), query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.post, "/v1/webhook-endpoints/<endpoint_id>/deliveries/<delivery_id>/retry", TAG, "Send a delivery again now",
       roles=PRODUCER, response=WebhookDeliveryView, status=202,
       description="A delivery still on its retry schedule is tried now; one that succeeded or failed gets one more attempt, "
       "with the same `webhook-id` and body. The endpoint must be enabled (409 otherwise).")
def retry_delivery(endpoint_id: str, delivery_id: str, caller: Caller) -> dict[str, Any]:
    endpoint = commands.visible_webhook_endpoint(services(), endpoint_id, caller.scope)
    if not (SERIAL.fullmatch(delivery_id) and int(delivery_id) <= MAX_BIGINT):
        raise not_found("delivery")
    if not endpoint.enabled:
        raise ApiError(409, "invalid-state", "Not allowed in the current state", "the endpoint is disabled: enable it first")
    if not deliveries.retry_now(services().db, str(endpoint.id), int(delivery_id), services().clock.now()):
        raise not_found("delivery")
    found = read_models.delivery(services().db, str(endpoint.id), int(delivery_id))
    if found is None:
        raise not_found("delivery")
    return found
