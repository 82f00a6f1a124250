"""Examples for docs/asyncapi.yaml: fixed domain events put through the relay's own encoder, so an
example can never show a message the relay would not send."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper

from recur.contract.encoding import EventEncoder
from recur.domain.subscription import Subscription

SUBSCRIPTION = UUID("dc9374ef-08ab-4e01-88f4-211a55570f65")
PRODUCER = "f5f0b2c5-cc2b-461e-bb97-9a48d20b26f4"
AT = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
ACTOR = {"kind": "producer", "id": PRODUCER, "request_id": "5b1f0c7e4a8d4e2b"}
TERMS = {
    "plan_id": "e77d4f28-8ff4-4e1e-b6dd-53c584394cc7",
    "offer_id": None,
    "price": {"amount": 4990, "currency": "BRL"},
    "periodicity": "monthly",
    "installments": 1,
    "retry_policy": {"max_retries": 5, "window_days": 15, "reset_billing_date": False},
    "renewal_reminder_days": None,
}


def _encoded(name: str, event: Any, notification_id: int) -> dict[str, Any]:
    public = EventEncoder(Mapper(transcoder=JSONTranscoder()), lambda _: PRODUCER).encode_event(event, notification_id)
    return {"name": name, "headers": {k: v.decode() for k, v in public.headers}, "payload": public.body}


def subscription_started() -> dict[str, Any]:
    return _encoded("card, no trial", Subscription.SubscriptionStarted(  # type: ignore[attr-defined]
        originator_id=SUBSCRIPTION,
        originator_version=1,
        timestamp=datetime(2024, 1, 31, 9, 0, 0, 120731, tzinfo=UTC),
        originator_topic="recur.domain.subscription:Subscription",
        code="SUB-7KQ2M9XD",
        producer_id=PRODUCER,
        product_id="1e740fd1-0a38-4f82-8cec-caad91219188",
        terms=TERMS,
        subscriber={"name": "Ana Souza", "email": "ana@example.com", "country": "BR"},
        payment_method={"type": "card", "token": "tok_never_published", "brand": "visa", "last4": "4242"},
        subscriber_token_hash="never published",
        started_at=AT,
        first_charge_at=AT,
        actor=ACTOR,
    ), 7)


def charge_succeeded() -> dict[str, Any]:
    return _encoded("first monthly charge approved", Subscription.ChargeSucceeded(
        originator_id=SUBSCRIPTION,
        originator_version=4,
        timestamp=datetime(2024, 1, 31, 9, 0, 0, 913402, tzinfo=UTC),
        key=f"{SUBSCRIPTION}:c1:i1:a1",
        gateway_charge_id="ch_8f14e45fceea167a",
        cycle=1,
        installment=1,
        installments=1,
        amount=4990,
        currency="BRL",
        method="card",
        new_terms=None,
        anchor=AT,
        cycle_offset=0,
        period_start=AT,
        status="active",
        at=AT,
        actor=ACTOR,
    ), 11)


EXAMPLES: list[tuple[type, Callable[[], dict[str, Any]]]] = [
    (Subscription.SubscriptionStarted, subscription_started),  # type: ignore[attr-defined]
    (Subscription.ChargeSucceeded, charge_succeeded),
]
