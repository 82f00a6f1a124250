"""Subscriptions: start, read (now or as of any past instant), list, audit trail, and commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg2.extras
from flask import Blueprint, current_app, request
from marshmallow import Schema, fields, validate

from recur.commands import subscriptions as commands
from recur.commands.catalog import owned
from recur.contract.encoding import public_view
from recur.domain.subscription import Subscription
from recur.http.auth import Caller, check_subscription_access, require
from recur.http.errors import ApiError
from recur.http.fields import EmailAddress, Text
from recur.http.iso_codes import check_country
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_REASON_LENGTH
from recur.http.pagination import decode_cursor, encode_cursor, page_limit
from recur.http.query import as_uuid
from recur.http.schemas import PaymentMethodSchema, load
from recur.http.views import subscription_row_view, subscription_view

bp = Blueprint("subscriptions", __name__)
STATUSES = ["pending", "trialing", "active", "past_due", "inactive", "cancelled"]
ORIGIN_OF = {"subscriber": "customer", "producer": "seller", "admin": "admin"}


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


def services() -> Any:
    return current_app.extensions["recur"]


def _subscription_for(caller: Caller, subscription_id: str) -> Subscription:
    check_subscription_access(caller, subscription_id)
    sub: Subscription = owned(services(), subscription_id, Subscription, caller.scope)
    return sub


@bp.post("/v1/subscriptions")
def start_subscription() -> tuple[dict[str, Any], int]:
    caller = require("producer", "admin")
    data = load(StartSchema(), request.get_json())
    data = {**data, "plan_id": str(data["plan_id"]), "offer_id": str(data["offer_id"]) if data["offer_id"] else None}
    sub, token = commands.start_subscription(services(), caller.scope, data, caller.actor())
    return {**subscription_view(sub), "subscriber_token": token}, 201


@bp.get("/v1/subscriptions/<subscription_id>")
def get_subscription(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    sub = _subscription_for(caller, subscription_id)
    as_of = request.args.get("as_of")
    if as_of:
        sub = _as_of(sub, as_of)
    return subscription_view(sub)


def _as_of(sub: Subscription, raw: str) -> Subscription:
    """Replay the subscription's events up to the instant (in the subscription's own time)."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(
            422, "validation-error", "Invalid request", "as_of must be an ISO 8601 timestamp", {"as_of": ["not an ISO 8601 timestamp"]}
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    events = services().events
    version = None
    for stored in events.recorder.select_events(sub.id):
        event = events.mapper.to_domain_event(stored)
        at = getattr(event, "at", None) or getattr(event, "started_at", None) or event.timestamp
        if at > moment:
            break
        version = event.originator_version
    if version is None:
        raise ApiError(404, "not-found", "Not found", "the subscription did not exist yet at that instant")
    past: Subscription = events.load(sub.id, Subscription, version=version)
    return past


@bp.get("/v1/subscriptions")
def list_subscriptions() -> dict[str, Any]:
    caller = require("producer", "admin")
    limit = page_limit()
    after = decode_cursor(request.args.get("cursor"))
    where, params = ["true"], []
    if caller.producer_id:
        where.append("producer_id = %s")
        params.append(caller.producer_id)
    for name in ("product_id", "plan_id", "producer_id"):
        value = request.args.get(name)
        if value:
            as_uuid(name, value)
            where.append(f"{name} = %s")
            params.append(value)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            raise ApiError(
                422, "validation-error", "Invalid request", f"status must be one of {', '.join(STATUSES)}", {"status": ["unknown status"]}
            )
        where.append("status = %s")
        params.append(status)
    if after:
        where.append("(started_at, id) > (%s::timestamptz, %s::uuid)")
        params.extend(after)
    sql = f"SELECT * FROM rm_subscriptions WHERE {' AND '.join(where)} ORDER BY started_at, id LIMIT %s"
    params.append(limit + 1)
    with services().db.transaction() as cur:
        cur.execute("SET LOCAL statement_timeout = '10s'")
        dict_cur = cur.connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        dict_cur.execute(sql, params)
        rows = dict_cur.fetchall()
    items = [subscription_row_view(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["started_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


@bp.get("/v1/subscriptions/<subscription_id>/events")
def subscription_events(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    sub = _subscription_for(caller, subscription_id)
    events = services().events
    items = []
    for stored in events.recorder.select_events(sub.id):
        event = public_view(events.mapper.to_domain_event(stored))
        actor = event.actor
        items.append(
            {
                "version": event.version,
                "type": event.type,
                "occurred_at": event.occurred_at,
                "recorded_at": event.recorded_at,
                "actor": {"kind": actor["kind"], "id": actor["id"]} if actor else None,
                "request_id": actor.get("request_id") if actor else None,
                "data": event.data,
            }
        )
    return {"items": items}


@bp.post("/v1/subscriptions/<subscription_id>/cancel")
def cancel(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(CancelSchema(), request.get_json() if request.get_data() else {})
    sub = commands.cancel(
        services(),
        subscription_id,
        caller.scope,
        ORIGIN_OF[caller.kind],
        data["reason"],  # type: ignore[arg-type]
        str(data["when"]),
        caller.actor(),
    )
    return subscription_view(sub)


@bp.post("/v1/subscriptions/<subscription_id>/change-plan")
def change_plan(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(ChangePlanSchema(), request.get_json())
    sub = commands.change_plan(
        services(), subscription_id, caller.scope, str(data["plan_id"]), str(data["offer_id"]) if data["offer_id"] else None, caller.actor()
    )
    return subscription_view(sub)


@bp.put("/v1/subscriptions/<subscription_id>/payment-method")
def change_payment_method(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(PaymentMethodSchema(), request.get_json())
    return subscription_view(commands.change_payment_method(services(), subscription_id, caller.scope, data, caller.actor()))


@bp.put("/v1/subscriptions/<subscription_id>/billing-day")
def change_billing_day(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    data = load(BillingDaySchema(), request.get_json())
    return subscription_view(commands.change_billing_day(services(), subscription_id, caller.scope, int(data["day"]), caller.actor()))  # type: ignore[call-overload]


@bp.post("/v1/subscriptions/<subscription_id>/reprocess")
def reprocess(subscription_id: str) -> dict[str, Any]:
    caller = require("producer", "admin", "subscriber")
    check_subscription_access(caller, subscription_id)
    return subscription_view(commands.reprocess(services(), subscription_id, caller.scope, caller.actor()))
