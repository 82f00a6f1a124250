"""Subscriptions: start, read (now or as of any past instant), list, audit trail, and commands."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields, validate

from recur.commands import subscriptions as commands
from recur.commands.catalog import owned
from recur.commands.history import NotYetStartedError, subscription_as_of, subscription_history
from recur.commands.versions import Expected
from recur.domain.subscription import Subscription
from recur.http.auth import check_subscription_access
from recur.http.context import services
from recur.http.errors import ApiError
from recur.http.fields import EmailAddress, Text
from recur.http.iso_codes import check_country
from recur.http.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_REASON_LENGTH
from recur.http.pagination import encode_cursor
from recur.http.query import AsOfQuery, SubscriptionsQuery
from recur.http.representations.subscriptions import EventListView, StartedSubscriptionView, SubscriptionPageView, SubscriptionView
from recur.http.routes import ANY_CALLER, PRODUCER, Caller, Extended, route
from recur.http.schemas import PaymentMethodSchema
from recur.projections.queries.subscriptions import subscription_page

bp = Blueprint("subscriptions", __name__)
TAG = "Subscriptions"


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


@route(bp.post, "/v1/subscriptions", TAG, "Start a subscription", roles=PRODUCER, body=StartSchema, response=StartedSubscriptionView,
       status=201, location="/v1/subscriptions/{id}", etag=True,
       description="With a trial: `trialing`. Without: the first charge runs now; approved -> `active`, declined -> `pending`. "
       "Boleto: a boleto is issued and the subscription becomes `active` when it is paid.")
def start_subscription(caller: Caller, body: dict[str, Any]) -> Extended:
    fields = {**body, "plan_id": str(body["plan_id"]), "offer_id": str(body["offer_id"]) if body["offer_id"] else None}
    sub, token = commands.start_subscription(services(), caller.scope, fields, caller.actor())
    return Extended(sub, subscriber_token=token)


@route(bp.get, "/v1/subscriptions/<subscription_id>", TAG, "Read a subscription", roles=ANY_CALLER, query=AsOfQuery,
       response=SubscriptionView, etag=True)
def get_subscription(subscription_id: str, caller: Caller, query: dict[str, Any]) -> Subscription:
    sub = _subscription_for(caller, subscription_id)
    if query.get("as_of") is None:
        return sub
    try:
        return subscription_as_of(services(), sub, query["as_of"])
    except NotYetStartedError:
        raise ApiError(404, "not-found", "Not found", "the subscription did not exist yet at that instant") from None


@route(bp.get, "/v1/subscriptions", TAG, "List subscriptions", roles=PRODUCER, query=SubscriptionsQuery, response=SubscriptionPageView)
def list_subscriptions(caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    filters = {name: query.get(name) for name in ("producer_id", "product_id", "plan_id", "status")}
    if caller.producer_id:
        if filters["producer_id"] not in (None, caller.producer_id):
            return {"items": [], "next_cursor": None}  # another tenant's: none of them are yours
        filters["producer_id"] = caller.producer_id
    page = subscription_page(services().db, filters, query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.get, "/v1/subscriptions/<subscription_id>/events", TAG, "The subscription's audit trail: its events in order",
       roles=ANY_CALLER, response=EventListView)
def subscription_events(subscription_id: str, caller: Caller) -> dict[str, Any]:
    return {"items": subscription_history(services(), _subscription_for(caller, subscription_id))}


COMMAND = {"roles": ANY_CALLER, "response": SubscriptionView, "etag": True, "if_match": True}


@route(bp.post, "/v1/subscriptions/<subscription_id>/cancel", TAG, "Cancel a subscription", body=CancelSchema, body_required=False,
       description="The origin comes from the credentials: subscriber -> customer, producer -> seller, admin -> admin.", **COMMAND)
def cancel(subscription_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Subscription:
    check_subscription_access(caller, subscription_id)
    return commands.cancel(services(), subscription_id, caller.scope, commands.ORIGIN_OF[caller.kind], body["reason"], str(body["when"]),
                           caller.actor(), expected)


@route(bp.post, "/v1/subscriptions/<subscription_id>/change-plan", TAG, "Change plan at the next renewal", body=ChangePlanSchema,
       description="Same product only; the next cycle is billed with the new plan's price and periodicity.", **COMMAND)
def change_plan(subscription_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Subscription:
    check_subscription_access(caller, subscription_id)
    offer_id = str(body["offer_id"]) if body["offer_id"] else None
    return commands.change_plan(services(), subscription_id, caller.scope, str(body["plan_id"]), offer_id, caller.actor(), expected)


@route(bp.put, "/v1/subscriptions/<subscription_id>/payment-method", TAG, "Replace the payment method", body=PaymentMethodSchema,
       **COMMAND)
def change_payment_method(subscription_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Subscription:
    check_subscription_access(caller, subscription_id)
    return commands.change_payment_method(services(), subscription_id, caller.scope, body, caller.actor(), expected)


@route(bp.put, "/v1/subscriptions/<subscription_id>/billing-day", TAG, "Move the next charges to a day of the month",
       body=BillingDaySchema, **COMMAND)
def change_billing_day(subscription_id: str, caller: Caller, body: dict[str, Any], expected: Expected) -> Subscription:
    check_subscription_access(caller, subscription_id)
    return commands.change_billing_day(services(), subscription_id, caller.scope, int(body["day"]), caller.actor(), expected)


@route(bp.post, "/v1/subscriptions/<subscription_id>/reprocess", TAG, "Charge the overdue installment now",
       description="For `past_due` or `inactive` subscriptions; approved -> `active` again.", **COMMAND)
def reprocess(subscription_id: str, caller: Caller, expected: Expected) -> Subscription:
    check_subscription_access(caller, subscription_id)
    return commands.reprocess(services(), subscription_id, caller.scope, caller.actor(), expected)
