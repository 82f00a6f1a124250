"""Every kind of event recur records, made by driving the aggregates through their verbs, stored in an
in-memory event store and read back as the relay reads them: notifications.

`corpus()` gives the notifications as recorded today; `as_version_1(n)` gives a notification as version 1
of its event class recorded it (before the v2 fields existed), for replays of old history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain_builders import ACTOR, BOLETO, JAN_31, NEW_CARD, charge_approved, charge_refused, plan_terms, start_subscription, utc
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from recur.domain.catalog import Offer, Plan, Producer, Product
from recur.domain.money import Money
from recur.domain.reporting import ReportSchedule
from recur.domain.retry import RetryPolicy
from recur.domain.webhooks import WebhookEndpoint

# Fields each v2 event class added over its version 1 (the upcasters give old events these fields).
ADDED_IN_V2 = {
    "Subscription.ChargeAttempted": ["plan_id", "due_at"],
    "Subscription.ChargeSucceeded": ["period_start"],
    "Subscription.PlanChanged": ["applies_now"],
    "Subscription.Rescheduled": ["at"],
}


@dataclass
class Corpus:
    app: Application[Any]
    notifications: list[Notification]

    def event_class_names(self) -> set[str]:
        return {n.topic.split(":", 1)[1] for n in self.notifications}


def catalog() -> list[Any]:
    producer = Producer(name="Ana Courses", email="ana@example.com", api_key_hash="sha256:secret", actor=ACTOR)
    product = Product(producer_id=str(producer.id), name="Guitar course", actor=ACTOR)
    plan = Plan.define(
        producer_id=str(producer.id),
        product_id=str(product.id),
        name="Monthly",
        periodicity="monthly",
        price=Money(4990, "BRL"),
        trial_days=7,
        max_installments=1,
        retry_policy=RetryPolicy(),
        renewal_reminder_days=3,
        actor=ACTOR,
    )
    plan.revise({"name": "Monthly plus", "price": {"amount": 5990, "currency": "BRL"}}, ACTOR)
    offer = Offer(producer_id=str(producer.id), plan_id=str(plan.id), name="Launch", price={"amount": 2990, "currency": "BRL"}, actor=ACTOR)
    offer.revise({"price": {"amount": 3490, "currency": "BRL"}}, ACTOR)
    schedule = ReportSchedule.define(producer_id=str(producer.id), report="sales", frequency="monthly",
                                     recipients=["finance@example.com", "Ana@example.com"], format="csv",
                                     time_zone="America/Sao_Paulo", created_at=JAN_31, actor=ACTOR)
    schedule.delete(JAN_31 + timedelta(days=40), ACTOR)
    return [producer, product, plan, offer, schedule, webhook_endpoint(str(producer.id))]


def webhook_endpoint(producer_id: str) -> WebhookEndpoint:
    """An endpoint through every verb: revised, rotated, disabled by its producer, enabled, disabled for failing, deleted."""
    known = ("subscription.cancelled", "subscription.charge_failed")
    endpoint = WebhookEndpoint.register(producer_id=producer_id, url="https://hooks.example.com/recur",
                                        event_types=["subscription.cancelled"], known_types=known, description="CRM",
                                        secret_id="secret-1", created_at=JAN_31, actor=ACTOR)
    endpoint.revise({"event_types": [], "description": None}, known, JAN_31 + timedelta(days=1), ACTOR)
    endpoint.rotate_secret("secret-2", JAN_31 + timedelta(days=2), ACTOR)
    endpoint.disable(JAN_31 + timedelta(days=3), ACTOR)
    endpoint.enable(JAN_31 + timedelta(days=4), ACTOR)
    assert endpoint.disable_for_failing(JAN_31 + timedelta(days=4), JAN_31 + timedelta(days=10), ACTOR)
    endpoint.delete(JAN_31 + timedelta(days=11), ACTOR)
    return endpoint


def subscriptions() -> list[Any]:
    quarterly = plan_terms(plan_id="plan-quarterly", periodicity="quarterly", price=2700, renewal_reminder_days=5)

    # A trial (and its ending notice), a plan change at renewal (new_terms) reminded before it, a billing-day
    # change, a cancellation at period end.
    trial = start_subscription(trial_days=7)
    assert trial.settle_due_housekeeping(JAN_31 + timedelta(days=4), ACTOR)
    charge_approved(trial, JAN_31 + timedelta(days=7))
    trial.change_plan(quarterly, trial.product_id, JAN_31 + timedelta(days=8), ACTOR)
    assert trial.next_charge_at is not None
    assert trial.settle_due_housekeeping(trial.next_charge_at - timedelta(days=5), ACTOR)
    charge_approved(trial, trial.next_charge_at)
    trial.change_billing_day(10, trial.next_charge_at - timedelta(days=20), ACTOR)
    trial.cancel("customer", "too expensive", "period_end", trial.next_charge_at - timedelta(days=10), ACTOR)
    assert trial.cancel_at is not None and trial.complete_scheduled_cancellation(trial.cancel_at, ACTOR)

    # A plan change before the first charge applies at once; cancelled now.
    switched = start_subscription(trial_days=7)
    switched.change_plan(quarterly, switched.product_id, JAN_31, ACTOR)
    switched.cancel("seller", None, "now", JAN_31 + timedelta(days=1), ACTOR)

    # Refused until the retries run out.
    refused = start_subscription(terms=plan_terms(max_retries=1, window_days=4))
    charge_refused(refused, JAN_31)
    assert refused.next_charge_at is not None
    charge_refused(refused, refused.next_charge_at)

    # A hard decline waits for a new card, which is retried at once.
    stolen = start_subscription()
    charge_refused(stolen, JAN_31, "stolen_card")
    stolen.change_payment_method(NEW_CARD, JAN_31 + timedelta(days=1), ACTOR)
    # ... and then the subscriber asks to be forgotten.
    assert stolen.erase_subscriber(JAN_31 + timedelta(days=2), ACTOR)

    # A boleto paid, the next one left to expire.
    boleto = start_subscription(payment_method=BOLETO)
    for number in (1, 2):
        request = boleto.begin_charge(boleto.next_charge_at or JAN_31, ACTOR)
        assert request is not None
        boleto.record_boleto_issued(request.key, f"boleto-{number}", "23790.00000 00000.000000", boleto.next_charge_at or JAN_31, ACTOR)
        if number == 1:
            boleto.record_boleto_paid("boleto-1", JAN_31 + timedelta(days=1), ACTOR)
    assert boleto.settle_due_housekeeping(utc(2024, 3, 10), ACTOR)
    return [trial, switched, refused, stolen, boleto, refunded()]


def refunded() -> Any:
    """Refunds made by recur (approved, pending then approved, refused), one made at the gateway, disputes won and lost."""
    sub = start_subscription()
    charge_approved(sub, JAN_31)
    assert sub.next_charge_at is not None
    charge_approved(sub, sub.next_charge_at)
    first, renewal = list(sub.paid_charges.values())
    later = JAN_31 + timedelta(days=40)
    partial = sub.begin_refund(later, ACTOR, charge_id=first.key, amount=Money(300, "BRL"), reason="requested by the buyer")
    sub.record_refund_succeeded(partial.refund_id, "re_partial", later, ACTOR)
    slow = sub.begin_refund(later, ACTOR, charge_id=first.key)
    sub.record_refund_pending(slow.refund_id, "re_slow", later, ACTOR)
    sub.record_refund_succeeded(slow.refund_id, "re_slow", later + timedelta(days=1), ACTOR)
    refused = sub.begin_refund(later, ACTOR, amount=Money(100, "BRL"))
    sub.record_refund_failed(refused.refund_id, "charge_not_refundable", later, ACTOR)
    sub.record_external_refund(renewal.gateway_charge_id, "re_dashboard", Money(100, "BRL"), later, ACTOR)
    sub.record_dispute_opened(renewal.gateway_charge_id, "dp_won", Money(400, "BRL"), "fraudulent", later, ACTOR)
    sub.record_dispute_closed("dp_won", "won", later + timedelta(days=30), ACTOR)
    sub.record_dispute_opened(renewal.gateway_charge_id, "dp_lost", Money(500, "BRL"), None, later, ACTOR)
    sub.record_dispute_closed("dp_lost", "lost", later + timedelta(days=30), ACTOR)
    sub.cancel("seller", "refunded", "now", later, ACTOR)
    return sub


def corpus() -> Corpus:
    app = Application[Any](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(*catalog(), *subscriptions())
    return Corpus(app, app.recorder.select_notifications(1, 10_000))


def version_1_state(topic: str, state: bytes) -> bytes:
    """An event's stored state as version 1 of its class wrote it: without the v2 fields and class_version."""
    qualname = topic.split(":", 1)[1]
    fields: dict[str, Any] = json.loads(state)
    if qualname in ADDED_IN_V2:
        assert fields.pop("class_version") == 2
        for name in ADDED_IN_V2[qualname]:
            fields.pop(name)
    return json.dumps(fields).encode()


def as_version_1(notification: Notification) -> Notification:
    """The notification as version 1 of its event class recorded it."""
    return Notification(
        id=notification.id,
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=version_1_state(notification.topic, notification.state),
    )
