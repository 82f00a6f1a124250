"""Ask the gateway for a recorded refund and record its answer; settle every refund whose answer is due.

Never twice: the refund is recorded (`RefundRequested`, with its key) before the gateway is called, the gateway is
called with that key (a repeat returns the first result), and the answer is accepted only for a refund still in
flight. A refund whose answer never came (a crash between the call and the record) is due at once, and one the
gateway called pending is due again later: the billing scheduler (`bill_subscription`) settles both, as do the
next refund request and the gateway's word on a refund of that subscription.

Kept apart from billing.py so that billing, the refund commands and the gateway's webhooks can all use it
without importing one another.
"""

from __future__ import annotations

import logging

from recur.commands.event_store import ConcurrentModificationError
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.refunds import RefundRequest
from recur.domain.subscription import Subscription

log = logging.getLogger(__name__)
# Load-decide-save rounds that recording one gateway answer makes before giving up on a subscription that keeps
# changing (as billing's SAVE_TRIES_PER_BILLING_STEP).
SAVE_TRIES_PER_REFUND_STEP = 6


def finish_refund(services: Services, sub_id: str, request: RefundRequest, actor: Actor, saved: Subscription | None = None) -> Subscription:
    """Call the gateway for a recorded refund and record its answer (unless someone already did).

    `saved` is the aggregate exactly as the caller just stored it, which spares a reload.
    """
    amount = request.amount
    result = services.gateway.refund(request.key, request.gateway_charge_id, amount.amount, amount.currency)
    for _ in range(SAVE_TRIES_PER_REFUND_STEP):
        sub: Subscription = saved if saved is not None else services.events.load(sub_id, Subscription)
        saved = None
        now = services.clock.now()
        if result.status == "succeeded":
            recorded = sub.record_refund_succeeded(request.refund_id, result.gateway_refund_id, now, actor)
        elif result.status == "pending":
            recorded = sub.record_refund_pending(request.refund_id, result.gateway_refund_id, now, actor)
        else:
            recorded = sub.record_refund_failed(request.refund_id, result.reason or "refused", now, actor)
        if not recorded:
            return sub  # another process recorded this answer first
        try:
            services.events.store(sub)
        except ConcurrentModificationError:
            continue
        log.info("refund %s: %s", request.key, result.status if result.reason is None else f"{result.status} ({result.reason})")
        return sub
    raise ConcurrentModificationError(f"could not record the answer to refund {request.key}")


def settle_due_refunds(services: Services, sub: Subscription, actor: Actor) -> Subscription:
    """Ask the gateway about each refund whose answer is due; `sub` must be as stored (no unsaved events).

    Nothing is read or called when none is due, so billing pays for this only on subscriptions with refunds in flight.
    """
    for request in sub.refunds_due(services.clock.now()):
        sub = finish_refund(services, str(sub.id), request, actor, saved=sub)
    return sub
