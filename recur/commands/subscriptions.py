"""Subscription commands. Each reads like a sentence: load, one domain verb, save.

A clash with a concurrent writer is retried on fresh state (the domain re-decides); after a few
clashes the caller gets a 409.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from recur.commands import credentials
from recur.commands.billing import charge_now_or_leave_in_flight
from recur.commands.catalog import owned
from recur.commands.event_store import ConcurrentModificationError, NotFoundError
from recur.commands.gateway import CardHolder, CardRefusedError, UnknownCardTokenError
from recur.commands.services import Services
from recur.commands.versions import ANY_VERSION, Expected, check_version
from recur.domain.actor import Actor
from recur.domain.catalog import Offer, Plan
from recur.domain.errors import RuleViolationError
from recur.domain.money import Money
from recur.domain.subscription import PlanTerms, Subscription

# Load-apply-save rounds a subscriber's or producer's command makes before a concurrent write wins.
SAVE_TRIES_PER_COMMAND = 4
# Who cancels decides the cancellation's origin: a subscriber is the customer, a producer the seller.
ORIGIN_OF = {"subscriber": "customer", "producer": "seller", "admin": "admin"}


def terms_of(services: Services, plan: Plan, offer_id: str | None, installments: int, caller: str | None) -> PlanTerms:
    """The price the subscriber locks: the offer's if given, else the plan's, as they are today."""
    price = plan.price_money
    if offer_id is not None:
        offer: Offer = owned(services, offer_id, Offer, caller)
        if offer.plan_id != str(plan.id):
            raise RuleViolationError("the offer does not belong to this plan", "offer_id")
        price = Money.from_dict(offer.price)
    if not 1 <= installments <= plan.max_installments:
        raise RuleViolationError(f"installments must be between 1 and {plan.max_installments} for this plan", "installments")
    return PlanTerms(str(plan.id), offer_id, price, plan.periodicity, installments, plan.policy, plan.renewal_reminder_days)


def payment_method_of(services: Services, fields: dict[str, Any], subscriber: dict[str, Any],
                      replacing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payment method to keep, made ready by the gateway: a card is prepared for charges without the subscriber
    present (at Stripe: attached to the subscriber's customer, the one of the card it replaces if any)."""
    if fields["type"] not in services.gateway.payment_methods:
        raise RuleViolationError(f"{fields['type']} is not available with this payment gateway (RECUR_GATEWAY): pay by "
                                 f"{' or '.join(sorted(services.gateway.payment_methods))}", "payment_method.type")
    if fields["type"] == "boleto":
        return {"type": "boleto"}
    holder = CardHolder(str(subscriber["name"]), str(subscriber["email"]))
    try:
        card = services.gateway.prepare_card(fields["card_token"], holder, (replacing or {}).get("token"))
    except UnknownCardTokenError as error:
        raise RuleViolationError(str(error), "payment_method.card_token") from None
    except CardRefusedError as error:
        raise RuleViolationError(f"the card was refused ({error.reason}): {error.message}", "payment_method.card_token") from None
    return {"type": "card", "token": card.token, "brand": card.brand, "last4": card.last4}


def new_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "SUB-" + "".join(secrets.choice(alphabet) for _ in range(8))


def start_subscription(services: Services, caller: str | None, fields: dict[str, Any], actor: Actor) -> tuple[Subscription, str]:
    """Start a subscription and, without a trial, make its first charge now."""
    plan: Plan = owned(services, fields["plan_id"], Plan, caller)
    terms = terms_of(services, plan, fields.get("offer_id"), fields.get("installments") or 1, caller)
    secret = credentials.new_secret(credentials.SUBSCRIBER_TOKEN)
    now = services.clock.now()
    sub = Subscription.start(
        code=new_code(),
        producer_id=plan.producer_id,
        product_id=plan.product_id,
        terms=terms,
        trial_days=plan.trial_days,
        subscriber=fields["subscriber"],
        payment_method=payment_method_of(services, fields["payment_method"], fields["subscriber"]),
        subscriber_token_hash=secret.hash,
        at=now,
        actor=actor,
    )
    request = sub.begin_charge(now, actor)
    services.events.store(sub)
    if request is not None:
        sub = charge_now_or_leave_in_flight(services, str(sub.id), request, actor, saved=sub)
    return sub, secret.credential(sub.id)


def subscription_for_token(services: Services, token: str) -> Subscription | None:
    """The token names its subscription, so one event-store read checks it."""
    presented = credentials.presented(credentials.SUBSCRIBER_TOKEN, token)
    if presented is None:
        return None
    try:
        sub: Subscription = services.events.load(presented.owner_id, Subscription)
    except NotFoundError:
        return None
    return sub if presented.matches(sub.subscriber_token_hash) else None


def mutate(services: Services, sub_id: str, caller: str | None, verb: Callable[[Subscription], None],
           expected: Expected = ANY_VERSION) -> Subscription:
    """Load, apply one verb, save; on a concurrent write, redo it on fresh state (unless the client asked for the
    version it had seen: then the fresh state is not what it decided on)."""
    for tried in range(SAVE_TRIES_PER_COMMAND):
        sub: Subscription = owned(services, sub_id, Subscription, caller)
        check_version(sub, expected)
        verb(sub)
        try:
            services.events.store(sub)
            return sub
        except ConcurrentModificationError:
            if tried == SAVE_TRIES_PER_COMMAND - 1:
                raise
    raise AssertionError("unreachable")


def cancel(services: Services, sub_id: str, caller: str | None, origin: str, reason: str | None, when: str, actor: Actor,
           expected: Expected = ANY_VERSION) -> Subscription:
    return mutate(services, sub_id, caller, lambda sub: sub.cancel(origin, reason, when, services.clock.now(), actor), expected)


def change_plan(services: Services, sub_id: str, caller: str | None, plan_id: str, offer_id: str | None, actor: Actor,
                expected: Expected = ANY_VERSION) -> Subscription:
    current: Subscription = owned(services, sub_id, Subscription, caller)
    plan: Plan = owned(services, plan_id, Plan, str(current.producer_id))
    installments = min(current.installments, plan.max_installments)
    terms = terms_of(services, plan, offer_id, installments, str(current.producer_id))
    return mutate(services, sub_id, caller, lambda sub: sub.change_plan(terms, plan.product_id, services.clock.now(), actor), expected)


def change_payment_method(services: Services, sub_id: str, caller: str | None, fields: dict[str, Any], actor: Actor,
                          expected: Expected = ANY_VERSION) -> Subscription:
    current: Subscription = owned(services, sub_id, Subscription, caller)
    method = payment_method_of(services, fields, current.subscriber, current.payment_method)
    return mutate(services, sub_id, caller, lambda sub: sub.change_payment_method(method, services.clock.now(), actor), expected)


def change_billing_day(services: Services, sub_id: str, caller: str | None, day: int, actor: Actor,
                       expected: Expected = ANY_VERSION) -> Subscription:
    return mutate(services, sub_id, caller, lambda sub: sub.change_billing_day(day, services.clock.now(), actor), expected)


def reprocess(services: Services, sub_id: str, caller: str | None, actor: Actor, expected: Expected = ANY_VERSION) -> Subscription:
    """Charge the overdue installment now."""
    requests = []
    sub = mutate(
        services, sub_id, caller, lambda sub: requests.append(sub.begin_charge(services.clock.now(), actor, reprocess=True)), expected
    )
    request = requests[-1]
    if request is None:
        return sub
    return charge_now_or_leave_in_flight(services, sub_id, request, actor)
