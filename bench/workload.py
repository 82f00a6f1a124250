"""Data the benchmarks start from: a catalog, sandbox card tokens, and a history of events."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.harness import Stack
from recur.domain.actor import Actor


@dataclass(frozen=True)
class Catalog:
    producer_id: str
    api_key: str
    product_id: str
    plan_id: str


def actor(producer_id: str = "admin") -> Actor:
    kind = "admin" if producer_id == "admin" else "producer"
    return Actor(kind=kind, id=producer_id, request_id=uuid.uuid4().hex)


def subscriber(i: int) -> dict[str, Any]:
    return {"name": f"Subscriber {i:06d} da Silva", "email": f"subscriber{i:06d}@example.com", "country": "BR"}


def make_catalog(services: Any, name: str = "Ana Courses") -> Catalog:
    """A producer with one product and a monthly plan without trial (so starting charges at once)."""
    from recur.commands.catalog import create_product, define_plan, register_producer

    producer, api_key = register_producer(services, name, "ana@example.com", actor())
    pid = str(producer.id)
    product = create_product(services, pid, "Guitar course", actor(pid))
    plan = define_plan(
        services,
        str(product.id),
        pid,
        {"name": "Monthly", "periodicity": "monthly", "price": {"amount": 4990, "currency": "BRL"}},
        actor(pid),
    )
    return Catalog(pid, api_key, str(product.id), str(plan.id))


def card_tokens(services: Any, n: int) -> list[str]:
    """`n` approved sandbox cards, one per subscription (a shared card would serialise charges on its
    row lock). Written in one statement: `SandboxGateway.tokenize` is one transaction per card, which
    is setup time the benchmarks do not measure."""
    import psycopg2.extras

    tokens = ["tok_" + secrets.token_hex(12) for _ in range(n)]
    with services.db.transaction() as cur:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO sandbox_cards (token, brand, last4, exp_month, exp_year, default_outcome) VALUES %s",
            [(t, "visa", "4242", 12, 2030, "approved") for t in tokens],
            page_size=1000,
        )
    return tokens


def start_fields(plan_id: str, token: str, i: int) -> dict[str, Any]:
    """What POST /v1/subscriptions hands to `start_subscription` after validation."""
    return {
        "plan_id": plan_id,
        "offer_id": None,
        "installments": None,
        "subscriber": subscriber(i),
        "payment_method": {"type": "card", "card_token": token},
    }


def start_body(plan_id: str, token: str, i: int) -> dict[str, Any]:
    """The JSON body of POST /v1/subscriptions."""
    return {"plan_id": plan_id, "subscriber": subscriber(i), "payment_method": {"type": "card", "card_token": token}}


# ---------------------------------------------------------------------------- a history of events
PER_SAVE = 100  # subscriptions saved per `events.store` call when producing history in bulk


def history_database(stack: Stack, events: int) -> str:
    """A database holding at least `events` events (made once per stack, shared by the relay and
    rebuild benchmarks): a few producers' catalogs, then subscriptions started and charged.

    The subscriptions go through the same domain verbs as `start_subscription` (start, begin_charge,
    record_charge_approved), so the events are the ones the API writes, but without the gateway round
    trips, and PER_SAVE aggregates per `events.store` call: one table lock and one commit per hundred
    subscriptions instead of two per subscription.
    """
    key = f"history:{events}"
    if key in stack.shared:
        return str(stack.shared[key])
    from recur.bootstrap import build_services
    from recur.commands.catalog import owned
    from recur.commands.subscriptions import new_code, terms_of
    from recur.domain.catalog import Plan
    from recur.domain.subscription import Subscription
    from recur.projections.rebuild import head

    url = stack.new_database("history")
    services = build_services(stack.settings(url), url, pool_size=2)
    try:
        catalogs = [make_catalog(services, f"Producer {k}") for k in range(5)]
        plans = [owned(services, c.plan_id, Plan, None) for c in catalogs]
        terms = [terms_of(services, plan, None, 1, None) for plan in plans]
        i = 0
        while head(services.db) < events:
            batch = []
            for _ in range(PER_SAVE):
                k = i % len(plans)
                who = actor(plans[k].producer_id)
                now = datetime.now(UTC)
                sub = Subscription.start(
                    code=new_code(),
                    producer_id=plans[k].producer_id,
                    product_id=plans[k].product_id,
                    terms=terms[k],
                    trial_days=0,
                    subscriber=subscriber(i),
                    payment_method={"type": "card", "token": "tok_" + secrets.token_hex(12), "brand": "visa", "last4": "4242"},
                    subscriber_token_hash=secrets.token_hex(32),
                    at=now,
                    actor=who,
                )
                request = sub.begin_charge(now, who)
                assert request is not None
                sub.record_charge_approved(request.key, "ch_" + secrets.token_hex(10), now, who)
                batch.append(sub)
                i += 1
            services.events.store(*batch)
    finally:
        services.close()
    stack.shared[key] = url
    return url
