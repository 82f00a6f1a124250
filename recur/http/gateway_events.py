"""Events payment gateways post to recur: Stripe's webhook, for refunds made in Stripe's dashboard and disputes.

No bearer credentials (Stripe sends none): each event is believed only once the gateway adapter has verified its
signature over the body exactly as received, which is why the view takes `raw_body` rather than parsed JSON. Every
answer but a 2xx makes Stripe deliver the event again later, so only what cannot succeed on a redelivery is a 2xx
without effect (an event recur does not follow, a charge recur did not make); a gateway or database that did not
answer is a 503, and a fact that comes before what it is about (a refund of a charge whose approval recur has not
recorded yet, a dispute closed before its opening arrived) a 409, so that Stripe delivers it again later.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, request

from recur.commands.gateway import NoticeSignatureError, NotThisGatewayError
from recur.commands.gateway_events import record_notice
from recur.domain.actor import Actor
from recur.http.context import services
from recur.http.errors import ApiError
from recur.http.representations.gateway_events import GatewayEventReceiptView
from recur.http.routes import route

bp = Blueprint("gateway_events", __name__)
log = logging.getLogger(__name__)
TAG = "Gateway events"
STRIPE_EVENT = {"type": "object", "description": "a Stripe event, as Stripe signs and sends it",
                "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "data": {"type": "object"}}}


@route(bp.post, "/v1/gateway-events/stripe", TAG, "Receive an event from Stripe (the webhook endpoint)", body=STRIPE_EVENT,
       response=GatewayEventReceiptView, problems=(401, 404),
       description="Point a Stripe webhook endpoint here with the events charge.refunded, charge.refund.updated, "
       "charge.dispute.created and charge.dispute.closed, and give recur its signing secret as RECUR_STRIPE_WEBHOOK_SECRET. "
       "A refund made in Stripe's dashboard becomes ChargeRefunded, a dispute ChargeDisputed then DisputeClosed, on the "
       "subscription whose charge it is; each event is applied once, however often Stripe delivers it. A missing or wrong "
       "Stripe-Signature is a 401; with RECUR_GATEWAY other than stripe the endpoint is a 404.")
def stripe_event(raw_body: bytes) -> dict[str, Any]:
    ports = services()
    try:
        notice = ports.gateway.read_notice("stripe", raw_body, request.headers.get("Stripe-Signature"))
    except NotThisGatewayError:
        raise ApiError(404, "not-found", "Not found", "this recur does not take payments through Stripe (RECUR_GATEWAY)") from None
    except NoticeSignatureError as error:
        raise ApiError(401, "invalid-signature", "Invalid signature", f"{error}: check RECUR_STRIPE_WEBHOOK_SECRET") from None
    outcome = record_notice(ports, "stripe", notice, Actor(kind="system", id="stripe", request_id=g.get("request_id", "")))
    if notice.ignored:
        log.info("stripe event %s (%s) ignored: %s", notice.event_id, notice.event_type, notice.ignored)
    return {"event_id": notice.event_id, "event_type": notice.event_type, "outcome": outcome}
