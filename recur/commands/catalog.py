"""Catalog commands: register producers, create products, define and revise plans and offers."""

from __future__ import annotations

from typing import Any

from recur.commands import credentials
from recur.commands.event_store import NotFoundError
from recur.commands.services import Services
from recur.commands.versions import ANY_VERSION, Expected, check_version
from recur.domain.actor import Actor
from recur.domain.catalog import Offer, Plan, Producer, Product, check_price
from recur.domain.errors import RuleViolationError
from recur.domain.money import Money
from recur.domain.retry import RetryPolicy


def register_producer(services: Services, name: str, email: str, actor: Actor) -> tuple[Producer, str]:
    """A new producer and its API key, which is shown this once."""
    secret = credentials.new_secret(credentials.API_KEY)
    producer = Producer(name=name, email=email, api_key_hash=secret.hash, actor=actor)
    services.events.store(producer)
    return producer, secret.credential(producer.id)


def producer_for_api_key(services: Services, api_key: str) -> Producer | None:
    """The key names its producer, so one event-store read checks it."""
    key = credentials.presented(credentials.API_KEY, api_key)
    if key is None:
        return None
    try:
        producer: Producer = services.events.load(key.owner_id, Producer)
    except NotFoundError:
        return None
    return producer if key.matches(producer.api_key_hash) else None


def owned(services: Services, aggregate_id: str, kind: type[Any], producer_id: str | None) -> Any:
    """Load an aggregate the caller may see; another tenant's id is reported as unknown."""
    aggregate = services.events.load(aggregate_id, kind)
    if producer_id is not None and str(aggregate.producer_id) != producer_id:
        raise NotFoundError(aggregate_id)
    return aggregate


def visible_producer(services: Services, producer_id: str, caller_producer_id: str | None) -> Producer:
    """A producer as the admin (any) or a producer (itself only) may see it."""
    producer: Producer = services.events.load(producer_id, Producer)
    if caller_producer_id is not None and str(producer.id) != caller_producer_id:
        raise NotFoundError(producer_id)
    return producer


def create_product(services: Services, producer_id: str, name: str, actor: Actor) -> Product:
    services.events.load(producer_id, Producer)
    product = Product(producer_id=producer_id, name=name, actor=actor)
    services.events.store(product)
    return product


def define_plan(services: Services, product_id: str, caller_producer_id: str | None, fields: dict[str, Any], actor: Actor) -> Plan:
    product: Product = owned(services, product_id, Product, caller_producer_id)
    policy = fields.get("retry_policy") or {}
    plan = Plan.define(
        producer_id=product.producer_id,
        product_id=str(product.id),
        name=fields["name"],
        periodicity=fields["periodicity"],
        price=Money.from_dict(fields["price"]),
        trial_days=fields.get("trial_days", 0),
        max_installments=fields.get("max_installments", 1),
        retry_policy=RetryPolicy(policy.get("max_retries", 5), policy.get("window_days", 15), policy.get("reset_billing_date", False)),
        renewal_reminder_days=fields.get("renewal_reminder_days"),
        actor=actor,
    )
    services.events.store(plan)
    return plan


def revise_plan(services: Services, plan_id: str, caller_producer_id: str | None, changes: dict[str, Any], actor: Actor,
                expected: Expected = ANY_VERSION) -> Plan:
    plan: Plan = owned(services, plan_id, Plan, caller_producer_id)
    check_version(plan, expected)
    if "retry_policy" in changes:
        merged = {**plan.retry_policy, **changes["retry_policy"]}
        changes = {**changes, "retry_policy": RetryPolicy.from_dict(merged).as_dict()}
    plan.revise(changes, actor)
    services.events.store(plan)
    return plan


def create_offer(services: Services, plan_id: str, caller_producer_id: str | None, name: str, price: dict[str, Any], actor: Actor) -> Offer:
    plan: Plan = owned(services, plan_id, Plan, caller_producer_id)
    money = Money.from_dict(price)
    check_price(money)
    if money.currency != plan.price["currency"]:
        raise RuleViolationError("an offer's currency must be the plan's currency", "price")
    offer = Offer(producer_id=plan.producer_id, plan_id=str(plan.id), name=name, price=money.as_dict(), actor=actor)
    services.events.store(offer)
    return offer


def revise_offer(services: Services, offer_id: str, caller_producer_id: str | None, changes: dict[str, Any], actor: Actor,
                 expected: Expected = ANY_VERSION) -> Offer:
    offer: Offer = owned(services, offer_id, Offer, caller_producer_id)
    check_version(offer, expected)
    offer.revise(changes, actor)
    services.events.store(offer)
    return offer
