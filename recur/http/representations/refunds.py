"""A refund of a subscription's charge, and the list of them, as the API answers them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from recur.http.representations.kit import MoneyView, instant, nested, representation, text, uuid

# What clients see. A refund whose gateway answer never came (recur asks again on its own) is `pending` too.
REFUND_STATUSES = ["succeeded", "pending", "failed"]


class RefundStatus(fields.String):
    """The domain's `requested` (answer not in yet) is `pending` for clients: either way the money has not moved yet."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return super()._serialize("pending" if value == "requested" else value, attr, obj, **kwargs)


@representation
class RefundView(Schema):
    id = text("`<subscription_id>:r<n>`: the n-th refund of the subscription, made through recur or at the gateway")
    subscription_id = uuid()
    charge_id = text("the refunded charge: its `transaction_id` in the sales report", attribute="charge_key")
    gateway_charge_id = text("the gateway's id of the charge (`boleto:<id>` for a paid boleto)")
    amount = nested(MoneyView)
    status = RefundStatus(validate=validate.OneOf(REFUND_STATUSES), metadata={
        "description": "succeeded: the money went back; pending: the gateway has not finished (recur asks again until it "
        "has); failed: nothing went back"})
    reason = text("why, as the producer or admin said", allow_none=True)
    failure_reason = text("the gateway's reason for a failed refund", allow_none=True)
    gateway_refund_id = text("the gateway's id of the refund, once it gave one", allow_none=True)
    external = fields.Boolean(metadata={"description": "made at the gateway (its dashboard), not through recur"})
    created_at = instant("when the refund was requested (for one made at the gateway: when recur learnt of it)",
                         attribute="requested_at")
    settled_at = instant("when it succeeded or failed", allow_none=True)


RefundListView = representation(Schema.from_dict({"items": fields.List(fields.Nested(RefundView))}, name="RefundListView"))
