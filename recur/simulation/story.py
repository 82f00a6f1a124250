"""What happens to each simulated subscriber, decided up front from the seed alone (pure: no I/O, no clock).

Everything random in a simulation is drawn here, from one `random.Random(seed)`, in a fixed order, so the same seed
gives the same story whatever ids, tokens and instants the run meets; the driver (recur.simulation.run) only plays it.

Rates are those of a healthy digital-products business: about 8% of renewal charges refused, two thirds of those
recovered by a retry; 15% pay by boleto, 85% of boletos paid; about 3% of subscribers cancel each month (customers
mostly, then sellers, then admins); a few change plan, card or billing day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PLANS = ("monthly", "monthly_trial", "quarterly")
REFUSAL_REASONS = ("insufficient_funds", "card_declined", "expired_card", "processing_error")
CHARGE_REFUSED = 0.08
RECOVERED = 0.66
BOLETO = 0.15
BOLETO_PAID = 0.85
# Per subscriber and day.
DAILY = {"cancel_customer": 0.02 / 30, "cancel_seller": 0.006 / 30, "cancel_admin": 0.004 / 30,
         "change_plan": 0.01 / 30, "change_card": 0.01 / 30, "change_billing_day": 0.006 / 30}


@dataclass(frozen=True)
class Action:
    """One thing a subscriber (or their seller, or an admin) does on `day` of the simulation."""

    day: int
    subscriber: int
    kind: str  # cancel_customer | cancel_seller | cancel_admin | change_plan | change_card | change_billing_day
    value: int = 0  # the new billing day, or which other plan


@dataclass(frozen=True)
class Subscriber:
    index: int
    producer: int
    signup_day: int
    plan: str
    installments: int
    boleto: bool
    # The card's answers to its charges in order (the sandbox's outcome queue); after them the card approves.
    outcomes: tuple[str, ...]
    # Whether each boleto issued to this subscriber gets paid, in order.
    boletos_paid: tuple[bool, ...]


@dataclass(frozen=True)
class Story:
    seed: int
    producers: int
    days: int
    signup_days: int
    subscribers: tuple[Subscriber, ...]
    actions: tuple[Action, ...] = field(default=())


def charge_outcomes(rng: random.Random, charges: int) -> tuple[str, ...]:
    """A card's answers to `charges` renewals: each refused with CHARGE_REFUSED; a refusal is followed by refused
    retries, then either an approval (recovered, after 1-3 retries) or refusals until the retries run out."""
    outcomes: list[str] = []
    for _ in range(charges):
        if rng.random() >= CHARGE_REFUSED:
            outcomes.append("approved")
            continue
        reason = rng.choice(REFUSAL_REASONS)
        if rng.random() < RECOVERED:
            outcomes += [reason] * rng.randint(1, 3) + ["approved"]
        else:
            outcomes += [reason] * 6  # the first try and five retries: the subscription goes inactive
            break
    return tuple(outcomes)


def write_story(seed: int, subscribers: int, months: int, producers: int = 1) -> Story:
    """The whole simulation: sign-ups over the first 28 days, then `months` months of billing and changes."""
    rng = random.Random(seed)
    signup_days, days = 28, 28 + 30 * months
    people = []
    for index in range(subscribers):
        plan = rng.choices(PLANS, weights=(6, 3, 1))[0]
        boleto = rng.random() < BOLETO
        people.append(Subscriber(
            index=index,
            producer=index % producers,
            signup_day=rng.randrange(signup_days),
            plan=plan,
            installments=rng.choice((1, 3)) if plan == "quarterly" else 1,
            boleto=boleto,
            outcomes=() if boleto else charge_outcomes(rng, months + 2),
            boletos_paid=tuple(rng.random() < BOLETO_PAID for _ in range(months + 2)) if boleto else (),
        ))
    actions = []
    for day in range(1, days):
        for person in people:
            if day <= person.signup_day:
                continue
            for kind, chance in DAILY.items():
                if rng.random() < chance:
                    actions.append(Action(day, person.index, kind, rng.randint(1, 28)))
    return Story(seed, producers, days, signup_days, tuple(people), tuple(actions))
