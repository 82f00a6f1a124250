"""Refunds of a subscription's charges: ask for one (producer, admin), list them, read one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields

from recur.commands import refunds as commands
from recur.http.auth import check_subscription_access
from recur.http.context import services
from recur.http.errors import not_found
from recur.http.fields import StrictBoolean, Text
from recur.http.limits import MAX_REASON_LENGTH, MAX_TEXT_ID_LENGTH
from recur.http.representations.refunds import RefundListView, RefundView
from recur.http.routes import ANY_CALLER, PRODUCER, Caller, Extended, route
from recur.http.schemas import MoneySchema

bp = Blueprint("refunds", __name__)
TAG = "Subscriptions"


class RefundSchema(Schema):
    charge_id = Text(load_default=None, max_length=MAX_TEXT_ID_LENGTH, metadata={
        "description": "the `transaction_id` (sales report) of an approved charge; default: the last approved charge"})
    amount = fields.Nested(MoneySchema, load_default=None, metadata={
        "description": "default: all that is left of the charge (its amount less earlier refunds)"})
    reason = Text(load_default=None, max_length=MAX_REASON_LENGTH)
    cancel = StrictBoolean(load_default=False, metadata={
        "description": "also cancel the subscription now (origin from the credentials, as for cancel)"})


def _seen(refund: Any, subscription_id: str) -> Extended:
    return Extended(refund, subscription_id=subscription_id)


@route(bp.post, "/v1/subscriptions/<subscription_id>/refunds", TAG, "Refund a charge, in full or in part", roles=PRODUCER,
       body=RefundSchema, body_required=False, response=RefundView, status=201,
       location="/v1/subscriptions/{subscription_id}/refunds/{id}",
       description="Recorded before the gateway is called, then answered `succeeded`, `pending` (the gateway has not finished: "
       "recur asks again until it has) or `failed`. Several partial refunds per charge, up to its amount; more than is left "
       "is a 422 (`amount.amount`); a disputed charge, or one with nothing left, is a 409. Allowed on a cancelled "
       "subscription.")
def refund(subscription_id: str, caller: Caller, body: dict[str, Any]) -> Extended:
    made, _ = commands.refund_charge(services(), subscription_id, caller.scope, body, caller.actor())
    return _seen(made, subscription_id)


@route(bp.get, "/v1/subscriptions/<subscription_id>/refunds", TAG, "The subscription's refunds, oldest first", roles=ANY_CALLER,
       response=RefundListView)
def list_refunds(subscription_id: str, caller: Caller) -> dict[str, Any]:
    check_subscription_access(caller, subscription_id)
    return {"items": [_seen(r, subscription_id) for r in commands.list_refunds(services(), subscription_id, caller.scope)]}


@route(bp.get, "/v1/subscriptions/<subscription_id>/refunds/<refund_id>", TAG, "Read one refund", roles=ANY_CALLER,
       response=RefundView)
def get_refund(subscription_id: str, refund_id: str, caller: Caller) -> Extended:
    check_subscription_access(caller, subscription_id)
    found = next((r for r in commands.list_refunds(services(), subscription_id, caller.scope) if r.id == refund_id), None)
    if found is None:
        raise not_found("refund")
    return _seen(found, subscription_id)
