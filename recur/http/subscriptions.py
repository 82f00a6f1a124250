"""Subscriptions: start, read (now or as of any past instant), list, audit trail, and commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request
from marshmallow import Schema, fields, validate

from recur.commands import subscriptions as commands
from recur.commands.catalog import owned
from recur.commands.history import NotYetStartedError, subscription_as_of, subscription_history
from recur.domain.subscription import Subscription
from recur.http.auth import Caller, check_subscription_access, require
from recur.http.conditional import created, expected_version, tags_version, versioned
from recur.http.context import services
from recur.http.errors import ApiError
from recur.http.fields import EmailAddress, Text
from recur.http.iso_codes import check_country
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_REASON_LENGTH
from recur.http.pagination import decode_cursor, encode_cursor, page_limit
from recur.http.query import as_uuid
from recur.http.schemas import PaymentMethodSchema, load
from recur.http.views import history_entry_view, subscription_row_view, subscription_view
from recur.projections.queries.subscriptions import subscription_page

bp = Blueprint("subscriptions", __name__)
STATUSES = ["pending", "trialing", "active", "past_due", "inactive", "cancelled"]


class SubscriberSchema(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    email = EmailAddress(required=True, max_length=MAX_EMAIL_LENGTH)
    country = Text(load_default=None, max_length=2, validate=check_country,
                   metadata={"description": "an ISO 3166-1 alpha-2 country code, e.g. BR", "pattern": "^[A-Z]{2}$"})


class StartSchema(Schema):
    plan_id = fields.UUID(required=True)
    offer_id = fields.UUID(load_default=None)
    installments = fields.Integer(strict=True, load_default=None, validate=validate.Range(1, 12))
    subscriber = fields.Nested(SubscriberSchema, required=True)
    payment_method = fields.Nested(PaymentMethodSchema, required=True)


class CancelSchema(Schema):
    reason = Text(load_default=None, max_length=MAX_REASON_LENGTH)
    when = fields.String(load_default="now", validate=validate.OneOf(["now", "period_end"]))


class ChangePlanSchema(Schema):
    plan_id = fields.UUID(required=True)
    offer_id = fields.UUID(load_default=None)


class BillingDaySchema(Schema):
    day = fields.Integer(required=True, strict=True, validate=validate.Range(1, 28))


def _subscription_for(caller: Caller, subscription_id: str) -> Subscription:
    check_subscription_access(caller, subscription_id)
    sub: Subscription = owned(services(), subscription_id, Subscription, caller.scope)
    return sub


@bp.post("/v1/subscriptions")
@created("/v1/subscriptions/{id}")
@tags_version
def start_subscription() -> Response:
    caller = require("producer", "admin")
    data = load(StartSchema(), request.get_json())
    data = {**data, "plan_id": str(data["plan_id"]), "offer_id": str(data["offer_id"]) if data["offer_id"] else None}
    sub, token = commands.start_subscription(services(), caller.scope, data, caller.actor())
    return versioned({**subscription_view(sub), "subscriber_token": token}, sub.version, 201)


@bp.get("/v1/subscriptions/<subscription_id>")
def get_subscription(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    sub = _subscription_for(caller, subscription_id)
    as_of = request.args.get("as_of")
    if as_of:
        sub = _as_of(sub, as_of)
    return versioned(subscription_view(sub), sub.version)


def _as_of(sub: Subscription, raw: str) -> Subscription:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(
            422, "validation-error", "Invalid request", "as_of must be an ISO 8601 timestamp", {"as_of": ["not an ISO 8601 timestamp"]}
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return subscription_as_of(services(), sub, moment)
    except NotYetStartedError:
        raise ApiError(404, "not-found", "Not found", "the subscription did not exist yet at that instant") from None


@bp.get("/v1/subscriptions")
def list_subscriptions() -> dict[str, Any]:
    caller = require("producer", "admin")
    limit = page_limit()
    after = decode_cursor(request.args.get("cursor"))
    filters: dict[str, str | None] = {name: as_uuid(name, request.args[name]) if request.args.get(name) else None
                                      for name in ("product_id", "plan_id", "producer_id")}
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise ApiError(
                422, "validation-error", "Invalid request", f"status must be one of {', '.join(STATUSES)}", {"status": ["unknown status"]}
            )
        filters["status"] = status
    if caller.producer_id:
        if filters["producer_id"] not in (None, caller.producer_id):
            return {"items": [], "next_cursor": None}  # another tenant's: none of them are yours
        filters["producer_id"] = caller.producer_id
    page = subscription_page(services().db, filters, after, limit)
    next_cursor = encode_cursor(*page.next_after) if page.next_after else None
    return {"items": [subscription_row_view(r) for r in page.rows], "next_cursor": next_cursor}


@bp.get("/v1/subscriptions/<subscription_id>/events")
def subscription_events(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    sub = _subscription_for(caller, subscription_id)
    return {"items": [history_entry_view(entry) for entry in subscription_history(services(), sub)]}


@bp.post("/v1/subscriptions/<subscription_id>/cancel")
@tags_version
def cancel(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(CancelSchema(), request.get_json() if request.get_data() else {})
    sub = commands.cancel(
        services(),
        subscription_id,
        caller.scope,
        commands.ORIGIN_OF[caller.kind],
        data["reason"],  # type: ignore[arg-type]
        str(data["when"]),
        caller.actor(),
        expected_version(),
    )
    return versioned(subscription_view(sub), sub.version)


@bp.post("/v1/subscriptions/<subscription_id>/change-plan")
@tags_version
def change_plan(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(ChangePlanSchema(), request.get_json())
    offer_id = str(data["offer_id"]) if data["offer_id"] else None
    plan_id = str(data["plan_id"])
    sub = commands.change_plan(services(), subscription_id, caller.scope, plan_id, offer_id, caller.actor(), expected_version())
    return versioned(subscription_view(sub), sub.version)


@bp.put("/v1/subscriptions/<subscription_id>/payment-method")
def change_payment_method(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(PaymentMethodSchema(), request.get_json())
    sub = commands.change_payment_method(services(), subscription_id, caller.scope, data, caller.actor(), expected_version())
    return versioned(subscription_view(sub), sub.version)


@bp.put("/v1/subscriptions/<subscription_id>/billing-day")
def change_billing_day(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(BillingDaySchema(), request.get_json())
    day = int(data["day"])  # type: ignore[call-overload]
    sub = commands.change_billing_day(services(), subscription_id, caller.scope, day, caller.actor(), expected_version())
    return versioned(subscription_view(sub), sub.version)


@bp.post("/v1/subscriptions/<subscription_id>/reprocess")
@tags_version
def reprocess(subscription_id: str) -> Response:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    sub = commands.reprocess(services(), subscription_id, caller.scope, caller.actor(), expected_version())
    return versioned(subscription_view(sub), sub.version)
