"""Billing: make the gateway call for a recorded attempt, and do whatever is due on a subscription.

Never twice: the attempt is recorded before the gateway is called (only one process can record
it), the gateway is called with the attempt's idempotency key (a second call returns the first
result), and the result is accepted only for the attempt still awaiting it.

No answer is not a refusal: when the gateway cannot say what became of a charge (a timeout, a
connection error, a 5xx: GatewayOutcomeUnknown), nothing is recorded and the attempt stays in
flight. The billing scheduler meets it again (an attempt in flight is due work), calls the gateway
with the same key, and the gateway answers from what it finds under that key instead of charging
anew; while the gateway stays silent, the scheduler sets the subscription aside with a growing
backoff (recur/commands/scheduler_failures.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from recur.commands.event_store import ConcurrentModificationError
from recur.commands.gateway import BoletoResult, ChargeResult, GatewayOutcomeUnknown
from recur.commands.refund_settlement import settle_due_refunds
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.subscription import ChargeRequest, Subscription

log = logging.getLogger(__name__)
# Load-decide-save rounds a billing step (recording a gateway result, billing what is due, a boleto
# payment) makes before giving up when other writers keep changing the subscription first.
SAVE_TRIES_PER_BILLING_STEP = 6


def call_gateway(services: Services, sub_id: str, request: ChargeRequest) -> ChargeResult | BoletoResult:
    if request.method == "boleto":
        return services.gateway.issue_boleto(request.key, sub_id, request.amount.amount, request.amount.currency)
    assert request.token is not None
    return services.gateway.charge_card(request.key, request.token, request.amount.amount, request.amount.currency,
                                        subscription_id=sub_id)


def finish_charge(
    services: Services, sub_id: str, request: ChargeRequest, actor: Actor, saved: Subscription | None = None
) -> Subscription:
    """Call the gateway for a recorded attempt and record its result (unless someone already did).

    `saved` is the aggregate exactly as the caller just stored it, which spares a reload; after a
    concurrent write the loop reloads.
    """
    return record_result(services, sub_id, request, call_gateway(services, sub_id, request), actor, saved)


def record_result(
    services: Services, sub_id: str, request: ChargeRequest, result: ChargeResult | BoletoResult, actor: Actor,
    saved: Subscription | None = None,
) -> Subscription:
    """Record the gateway's answer to a recorded attempt, unless another process already did; reloads after a
    concurrent write. The billing run records a batch's answers in one save and comes here when that save clashes."""
    for _ in range(SAVE_TRIES_PER_BILLING_STEP):
        sub: Subscription = saved if saved is not None else services.events.load(sub_id, Subscription)
        saved = None
        if not apply_result(sub, request, result, services.clock.now(), actor):
            return sub  # another process recorded this very result
        try:
            services.events.store(sub)
            log.info("charge %s: %s", request.key, describe(result))
            return sub
        except ConcurrentModificationError:
            continue
    raise ConcurrentModificationError(f"could not record the result of {request.key}")


def apply_result(sub: Subscription, request: ChargeRequest, result: ChargeResult | BoletoResult, now: datetime,
                 actor: Actor) -> bool:
    """The gateway's answer as the subscription's verb; False when the attempt is no longer awaiting it."""
    if sub.inflight is None or sub.inflight.key != request.key:
        return False
    if isinstance(result, BoletoResult):
        sub.record_boleto_issued(request.key, result.boleto_id, result.line, now, actor)
    elif result.approved:
        sub.record_charge_approved(request.key, result.charge_id, now, actor)
    else:
        sub.record_charge_refused(request.key, result.reason or "declined", now, actor)
    return True


def describe(result: ChargeResult | BoletoResult) -> str:
    if isinstance(result, BoletoResult):
        return "boleto issued"
    return "approved" if result.approved else f"refused ({result.reason})"


def charge_now_or_leave_in_flight(
    services: Services, sub_id: str, request: ChargeRequest, actor: Actor, saved: Subscription | None = None
) -> Subscription:
    """finish_charge for a client waiting on an answer (a subscription starting, a reprocess): when the gateway's answer
    is unknown, the subscription is answered as it is, its charge in flight, and the billing scheduler settles it."""
    try:
        return finish_charge(services, sub_id, request, actor, saved)
    except GatewayOutcomeUnknown as unknown:
        log.warning("charge %s: outcome unknown (%s); the attempt stays in flight for the scheduler to settle", request.key, unknown)
        return saved if saved is not None else services.events.load(sub_id, Subscription)


def bill_subscription(services: Services, sub_id: str, actor: Actor) -> Subscription:
    """Do everything due now on one subscription: housekeeping, a pending attempt, a due charge, refunds whose
    gateway answer is due (never recorded, or pending and due a recheck)."""
    return settle_due_refunds(services, _bill_due_charge(services, sub_id, actor), actor)


def _bill_due_charge(services: Services, sub_id: str, actor: Actor) -> Subscription:
    """Housekeeping, a pending attempt, a due charge; returns the subscription as stored."""
    for _ in range(SAVE_TRIES_PER_BILLING_STEP):
        sub: Subscription = services.events.load(sub_id, Subscription)
        changed, request = decide_due_work(sub, services.clock.now(), actor)
        if changed:
            try:
                services.events.store(sub)
            except ConcurrentModificationError:
                continue
        if request is not None:
            return finish_charge(services, sub_id, request, actor)
        return sub
    raise ConcurrentModificationError(f"subscription {sub_id} kept changing while being billed")


def decide_due_work(sub: Subscription, now: datetime, actor: Actor) -> tuple[bool, ChargeRequest | None]:
    """What is due on `sub` at `now`, decided in memory: housekeeping, then the attempt awaiting an answer or a new one.
    Returns whether anything new was recorded (to be saved before any gateway call) and the charge to ask for."""
    changed = sub.settle_due_housekeeping(now, actor)
    pending = sub.pending_charge()
    request = pending or sub.begin_charge(now, actor)
    return changed or (request is not None and pending is None), request


def pay_boleto(services: Services, boleto_id: str, actor: Actor) -> Subscription | None:
    """The bank reports a boleto paid: the domain accepts it first, then the ledger is marked."""
    issued = services.gateway.boleto(boleto_id)
    if issued is None:
        return None
    sub_id = issued.subscription_id
    for _ in range(SAVE_TRIES_PER_BILLING_STEP):
        sub: Subscription = services.events.load(sub_id, Subscription)
        sub.record_boleto_paid(boleto_id, services.clock.now(), actor)
        try:
            services.events.store(sub)
        except ConcurrentModificationError:
            continue
        services.gateway.mark_boleto_paid(boleto_id)
        return sub
    raise ConcurrentModificationError(f"subscription {sub_id} kept changing")
