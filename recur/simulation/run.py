"""Play a simulation's story (recur.simulation.story) through the real commands, on the sandbox clock.

Producers, products and plans are created as the API creates them; each subscriber signs up on their day with a
sandbox card whose outcome queue is their story's (or by boleto); each day the clock advances one day, which bills
everything due in time order (the pipelined billing run) and waits for the read models; the day's boletos are paid
and the day's changes and cancellations made, each with the actor the API would record (customer, seller, admin).

The summary reads what the run left: revenue and what retries recovered from the subscriptions themselves (the event
store), cancellations, rate and LTV from the cancellation dashboard's own query over the months after the sign-ups,
per producer, so that it is exactly what the dashboard shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from recur.commands import catalog, subscriptions
from recur.commands.billing import pay_boleto
from recur.commands.sandbox_test_cards import TEST_CARDS
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.errors import DomainError
from recur.domain.subscription import Subscription
from recur.projections.queries.dashboard import cancellation_dashboard
from recur.scheduler import advance_clock
from recur.simulation.story import Story, Subscriber

PRICES = {"monthly": 4990, "monthly_trial": 3990, "quarterly": 12990}
PLAN_FIELDS = {
    "monthly": {"name": "Monthly", "periodicity": "monthly"},
    "monthly_trial": {"name": "Monthly, 7 days free", "periodicity": "monthly", "trial_days": 7},
    "quarterly": {"name": "Quarterly", "periodicity": "quarterly", "max_installments": 3},
}
CANCEL_ORIGINS = {"cancel_customer": "customer", "cancel_seller": "seller", "cancel_admin": "admin"}


@dataclass(frozen=True)
class ProducerFigures:
    """One producer's cancellation dashboard over the simulated months after the sign-ups."""

    producer_id: str
    cancellations: int
    cancellation_rate: float
    by_origin: dict[str, int]
    lt_months: float
    ltv: dict[str, Any]


@dataclass(frozen=True)
class Summary:
    subscribers: int
    revenue: int  # minor units, BRL, net of refunds: what the subscriptions paid
    recovered_by_retries: int  # of it, what was paid on a retry after a refusal
    charges_paid: int
    producers: tuple[ProducerFigures, ...]
    start: datetime
    measured_from: datetime
    end: datetime


@dataclass
class Cast:
    """The run's producers (id, api-side actor) and plan ids, and each subscriber's subscription id."""

    producers: list[str]
    plans: list[dict[str, str]]
    subscriptions: dict[int, str]


def admin() -> Actor:
    return Actor(kind="admin", id="admin", request_id="simulation")


def producer_actor(producer_id: str) -> Actor:
    return Actor(kind="producer", id=producer_id, request_id="simulation")


def subscriber_actor(sub_id: str) -> Actor:
    return Actor(kind="subscriber", id=sub_id, request_id="simulation")


def next_month_start(moment: datetime) -> datetime:
    first = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def simulate(services: Services, story: Story, gateway: Any, progress: Callable[[int], None] = lambda days: None) -> Summary:
    """Play `story`; `gateway` is the sandbox adapter (test cards and outcome queues); `progress(days)` after each day."""
    start = next_month_start(services.clock.now())
    advance_clock(services, start)
    cast = _open_shops(services, story)
    by_day: dict[int, list[Subscriber]] = {}
    for person in story.subscribers:
        by_day.setdefault(person.signup_day, []).append(person)
    actions: dict[int, list[Any]] = {}
    for action in story.actions:
        actions.setdefault(action.day, []).append(action)
    boletos_seen: dict[int, int] = {}
    for day in range(story.days):
        if day:
            advance_clock(services, start + timedelta(days=day), timeout=600)
        _pay_boletos(services, story, cast, boletos_seen)
        for person in by_day.get(day, []):
            cast.subscriptions[person.index] = _sign_up(services, gateway, cast, person)
        for action in actions.get(day, []):
            if action.subscriber in cast.subscriptions:
                # What the rules refuse now (a plan change while inactive) is refused as the API would; the story goes on.
                with contextlib.suppress(DomainError):
                    _act(services, gateway, cast, story, action)
        progress(1)
    end = start + timedelta(days=story.days)
    advance_clock(services, end, timeout=600)
    return _summary(services, story, cast, start, end)


def _open_shops(services: Services, story: Story) -> Cast:
    producers, plans = [], []
    for k in range(story.producers):
        producer, _ = catalog.register_producer(services, f"Simulated Producer {k + 1}", f"producer{k + 1}@example.com", admin())
        pid = str(producer.id)
        product = catalog.create_product(services, pid, "Online course", producer_actor(pid))
        plans.append({kind: str(catalog.define_plan(services, str(product.id), pid, {
            **fields, "price": {"amount": PRICES[kind], "currency": "BRL"}}, producer_actor(pid)).id)
            for kind, fields in PLAN_FIELDS.items()})
        producers.append(pid)
    return Cast(producers, plans, {})


APPROVING_TEST_CARD = next(number for number, outcome in TEST_CARDS.items() if outcome == "approved")


def _card(gateway: Any, outcomes: tuple[str, ...]) -> str:
    """A sandbox test card that approves, with the story's outcomes queued for its next charges."""
    token = gateway.tokenize(APPROVING_TEST_CARD, 12, 2040).token
    if outcomes:
        gateway.queue_outcomes(token, list(outcomes))
    return str(token)


def _sign_up(services: Services, gateway: Any, cast: Cast, person: Subscriber) -> str:
    producer_id = cast.producers[person.producer]
    method = {"type": "boleto"} if person.boleto else {"type": "card", "card_token": _card(gateway, person.outcomes)}
    sub, _ = subscriptions.start_subscription(services, producer_id, {
        "plan_id": cast.plans[person.producer][person.plan], "offer_id": None, "installments": person.installments,
        "subscriber": {"name": f"Subscriber {person.index:06d}", "email": f"subscriber{person.index:06d}@example.com",
                       "country": "BR"},
        "payment_method": method,
    }, producer_actor(producer_id))
    return str(sub.id)


def _pay_boletos(services: Services, story: Story, cast: Cast, seen: dict[int, int]) -> None:
    """Each open boleto is paid, or left to expire, as the subscriber's story says (in subscriber order)."""
    for index, sub_id in sorted(cast.subscriptions.items()):
        person = story.subscribers[index]
        if not person.boleto:
            continue
        sub: Subscription = services.events.load(sub_id, Subscription)
        if sub.boleto is None:
            continue
        boleto_id = sub.boleto.id
        number = seen[index] = seen.get(index, 0) + 1
        if number <= len(person.boletos_paid) and person.boletos_paid[number - 1]:
            pay_boleto(services, boleto_id, admin())


def _act(services: Services, gateway: Any, cast: Cast, story: Story, action: Any) -> None:
    sub_id = cast.subscriptions[action.subscriber]
    person = story.subscribers[action.subscriber]
    producer_id = cast.producers[person.producer]
    current: Subscription = services.events.load(sub_id, Subscription)
    if current.status == "cancelled" or current.cancellation is not None:
        return
    if action.kind in CANCEL_ORIGINS:
        origin = CANCEL_ORIGINS[action.kind]
        who = {"customer": subscriber_actor(sub_id), "seller": producer_actor(producer_id), "admin": admin()}[origin]
        subscriptions.cancel(services, sub_id, producer_id if origin == "seller" else None, origin, "simulated", "now", who)
    elif action.kind == "change_plan":
        others = [plan for kind, plan in cast.plans[person.producer].items() if plan != current.plan_id and kind != "quarterly"]
        subscriptions.change_plan(services, sub_id, None, others[action.value % len(others)], None, subscriber_actor(sub_id))
    elif action.kind == "change_card" and not person.boleto:
        token = _card(gateway, ())
        subscriptions.change_payment_method(services, sub_id, None, {"type": "card", "card_token": token}, subscriber_actor(sub_id))
    elif action.kind == "change_billing_day" and current.status == "active":
        subscriptions.change_billing_day(services, sub_id, None, action.value, subscriber_actor(sub_id))


def _summary(services: Services, story: Story, cast: Cast, start: datetime, end: datetime) -> Summary:
    loaded: dict[str, Subscription] = services.events.load_many(list(cast.subscriptions.values()), Subscription)
    paid = [charge for sub in loaded.values() for charge in sub.paid_charges.values()]
    measured_from = start + timedelta(days=story.signup_days)
    figures = []
    for producer_id in cast.producers:
        board = cancellation_dashboard(services.db, producer_id, measured_from, end)
        figures.append(ProducerFigures(producer_id, board["cancellations"], board["cancellation_rate"], board["by_origin"],
                                       board["lt_months"], board["ltv"]))
    return Summary(
        subscribers=len(cast.subscriptions),
        revenue=sum(sub.total_paid for sub in loaded.values()),
        recovered_by_retries=sum(charge.amount.amount for charge in paid if not charge.key.endswith(":a1")),
        charges_paid=len(paid),
        producers=tuple(figures),
        start=start,
        measured_from=measured_from,
        end=end,
    )

