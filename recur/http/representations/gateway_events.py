"""What recur answers a payment gateway that posted an event."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.http.representations.kit import representation, text

OUTCOMES = ["recorded", "known", "duplicate", "ignored"]


@representation
class GatewayEventReceiptView(Schema):
    id = text("the gateway's id of the event (evt_... at Stripe)", attribute="event_id")
    type = text("the gateway's type of the event, e.g. charge.refunded", attribute="event_type")
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), metadata={
        "description": "recorded: something new was recorded on a subscription; known: everything it says was already "
        "recorded (a refund recur made itself, an earlier event); duplicate: this event was received before (a "
        "redelivery), nothing done; ignored: nothing in it concerns recur (another type of event, a charge recur did "
        "not make)"})
