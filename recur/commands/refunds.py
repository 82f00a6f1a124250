"""Refund and dispute commands: refunds a producer (or admin) asks for, and facts the gateway reports.

A refund is two-phase like a charge: the subscription records it with its gateway key (`<subscription>:r<n>`)
before the gateway is called, then records the answer (refund_settlement.py). Before deciding a new refund, the
answers still due on that subscription are settled, so what is left of each charge is known.

The last three commands are for a gateway's webhooks (refunds made in its dashboard, disputes): each is
idempotent by the gateway's own ids and answers False when the fact was already recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from recur.commands.catalog import owned
from recur.commands.event_store import ConcurrentModificationError
from recur.commands.gateway import GatewayOutcomeUnknown
from recur.commands.refund_settlement import SAVE_TRIES_PER_REFUND_STEP, finish_refund, settle_due_refunds
from recur.commands.services import Services
from recur.commands.subscriptions import ORIGIN_OF, SAVE_TRIES_PER_COMMAND
from recur.domain.actor import Actor
from recur.domain.errors import RuleViolationError
from recur.domain.money import Money
from recur.domain.refunds import Refund, RefundRequest
from recur.domain.subscription import Subscription

log = logging.getLogger(__name__)
# The domain names `amount` and `currency`; the request body nests both under `amount`.
BODY_FIELD = {"amount": "amount.amount", "currency": "amount.currency"}


def refund_charge(
    services: Services, subscription_id: str, caller_producer_id: str | None, body: dict[str, Any], actor: Actor
) -> tuple[Refund, Subscription]:
    """Refund a charge (`charge_id`: its transaction_id; default the last approved one), in full or `amount` of it.

    With `cancel: true` the subscription is also cancelled now (in the same save as the refund request), the
    origin coming from the credentials as for the cancel route; a subscription already cancelled stays as it is.
    """
    amount = _money(body["amount"]["amount"], body["amount"]["currency"]) if body.get("amount") else None
    cancel = bool(body.get("cancel"))
    sub = settle_due_refunds(services, owned(services, subscription_id, Subscription, caller_producer_id), actor)
    request: RefundRequest | None = None
    for tried in range(SAVE_TRIES_PER_COMMAND):
        if tried:
            sub = owned(services, subscription_id, Subscription, caller_producer_id)
        now = services.clock.now()
        try:
            request = sub.begin_refund(now, actor, charge_id=body.get("charge_id"), amount=amount, reason=body.get("reason"))
        except RuleViolationError as error:
            raise RuleViolationError(str(error), BODY_FIELD.get(error.field or "", error.field)) from None
        if cancel and sub.status != "cancelled":
            # A system actor (no credentials) cancels as the platform would.
            sub.cancel(ORIGIN_OF.get(actor["kind"], "admin"), body.get("reason"), "now", now, actor)
        try:
            services.events.store(sub)
            break
        except ConcurrentModificationError:
            if tried == SAVE_TRIES_PER_COMMAND - 1:
                raise
    assert request is not None
    try:
        sub = finish_refund(services, subscription_id, request, actor, saved=sub)
    except GatewayOutcomeUnknown as unknown:
        # Not a refusal: the refund stays in flight, answered as it stands, and the billing scheduler settles it
        # with the same key (the gateway answers from what it finds under that key, never refunding anew).
        log.warning("refund %s: outcome unknown (%s); it stays in flight for the scheduler to settle", request.key, unknown)
    return sub.refunds[request.refund_id], sub


def _money(amount: int, currency: str) -> Money:
    """Money as the domain takes it; what Money refuses (a currency that is not a code) is the caller's input."""
    try:
        return Money(amount, currency)
    except (TypeError, ValueError) as error:
        raise RuleViolationError(str(error), "amount") from None


def list_refunds(services: Services, subscription_id: str, caller_producer_id: str | None) -> list[Refund]:
    """Every refund of the subscription, oldest first: recur's (pending until the gateway answers) and the gateway's."""
    sub: Subscription = owned(services, subscription_id, Subscription, caller_producer_id)
    return list(sub.refunds.values())


def record_external_refund(
    services: Services,
    subscription_id: str,
    gateway_charge_id: str,
    gateway_refund_id: str,
    amount: int,
    currency: str,
    actor: Actor,
) -> bool:
    """A refund the gateway made (its dashboard), or its word that a pending refund of recur's went through.

    Refunds of this subscription whose answer never came are settled first (the gateway tells their ids), so a
    refund of recur's own is never recorded a second time as the gateway's. False when already recorded.
    """
    money = _money(amount, currency)
    settle_due_refunds(services, services.events.load(subscription_id, Subscription), actor)
    return _record_fact(services, subscription_id,
                        lambda sub, now: sub.record_external_refund(gateway_charge_id, gateway_refund_id, money, now, actor))


def record_dispute_opened(
    services: Services,
    subscription_id: str,
    gateway_charge_id: str,
    dispute_id: str,
    amount: int,
    currency: str,
    reason: str | None,
    actor: Actor,
) -> bool:
    """The buyer disputed a charge with their issuer; False when this dispute is already recorded."""
    money = _money(amount, currency)
    return _record_fact(services, subscription_id,
                        lambda sub, now: sub.record_dispute_opened(gateway_charge_id, dispute_id, money, reason, now, actor))


def record_dispute_closed(
    services: Services, subscription_id: str, gateway_charge_id: str, dispute_id: str, outcome: str, actor: Actor
) -> bool:
    """The issuer decided (`won` or `lost`); False when this dispute's close is already recorded."""
    return _record_fact(services, subscription_id, lambda sub, now: sub.record_dispute_closed(
        dispute_id, outcome, now, actor, gateway_charge_id=gateway_charge_id))


def _record_fact(services: Services, subscription_id: str, record: Callable[[Subscription, datetime], bool]) -> bool:
    """Load, record one fact, save; a fact already recorded (the verb says False) saves nothing."""
    for _ in range(SAVE_TRIES_PER_REFUND_STEP):
        sub: Subscription = services.events.load(subscription_id, Subscription)
        if not record(sub, services.clock.now()):
            return False
        try:
            services.events.store(sub)
            return True
        except ConcurrentModificationError:
            continue
    raise ConcurrentModificationError(f"subscription {subscription_id} kept changing")
