"""The notifier: the consumer group that decides which e-mails subscription events call for.

It is applied like a projection (same runner, version guard, dead letters), in its own consumer group
(`recur-notifier`), and never rebuilt: what it writes are decisions, not a view. Each decision is a row of
the e-mail outbox with a key naming the subscription, the kind and the cycle (or charge, or boleto), so a
redelivered event or a second notifier decides nothing new; the sender delivers the rows.

It keeps what a message needs (the subscriber's address, the names of producer, product and plan) from
the events it consumes, rather than reading another group's read model that may be behind or ahead. The
catalog and subscription topics arrive side by side, in no order between them: a name whose catalog event
has not arrived yet is read from the event store itself (`recur_created_name`, migration 009).
Events stored before e-mail existed (`notifier_horizon`) update that state but send nothing: an upgrade
does not mail every subscriber a receipt for each charge of their history.

The time-based messages (renewal reminder, trial ending) are domain events recorded by the billing
scheduler when their moment comes on the billing clock (RenewalUpcoming, TrialEndingSoon): here they are
told like any other event.

Producers are told when recur disables one of their webhook endpoints after days of failed deliveries
(WebhookEndpointDisabled with reason `failing`), at the address they were registered with, in English (producers
have no language setting yet), from "recur".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from recur.contract.topics import CATALOG, SUBSCRIPTIONS
from recur.domain.money import Money
from recur.domain.webhooks import FAILING
from recur.notifications.messages import compose, locale_for
from recur.notifications.outbox import OutgoingMail, enqueue, record_undeliverable, smtp_can_carry
from recur.projections.base import Projection

GROUP_ID = "recur-notifier"
notifier = Projection("notifier", [SUBSCRIPTIONS, CATALOG], ["mail_subscribers", "mail_names"])
UNCARRIABLE = "the address has characters beyond ASCII before the @, which needs SMTPUTF8: recur does not send to it"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _money(data: dict[str, Any], amount_key: str = "amount") -> Money:
    return Money(int(data[amount_key]), str(data["currency"]))


# ------------------------------------------------------------------ what messages are written with
@dataclass(frozen=True)
class Recipient:
    """A subscription's subscriber as the notifier knows them, with the names a message shows."""

    subscription_id: str
    producer_id: str
    code: str
    name: str | None  # None once the subscriber is erased
    email: str | None
    country: str | None
    payment_method: dict[str, Any]
    producer_name: str
    product_name: str | None
    plan_name: str | None
    last_refusal: dict[str, Any] | None
    refusal_told: bool
    beyond_horizon: bool  # the event being applied was stored after e-mail existed

    def context(self) -> dict[str, Any]:
        return {
            "subscriber_name": self.name,
            "producer_name": self.producer_name,
            "product_name": self.product_name,
            "plan_name": self.plan_name,
            "subscription_code": self.code,
            "payment_method": self.payment_method,
        }


def _recipient(cur: Any, event: dict[str, Any]) -> Recipient | None:
    cur.execute(
        "SELECT s.subscription_id::text, s.producer_id::text, s.code, s.name, s.email, s.country, s.payment_method, "
        "coalesce(producer.name, (recur_created_name(s.producer_id)).name, ''), "
        "coalesce(product.name, (recur_created_name(s.product_id)).name), coalesce(plan.name, (recur_created_name(s.plan_id)).name), "
        "s.last_refusal, s.refusal_told, %s > (SELECT last_notification_id FROM notifier_horizon) "
        "FROM mail_subscribers s LEFT JOIN mail_names producer ON producer.id = s.producer_id "
        "LEFT JOIN mail_names product ON product.id = s.product_id LEFT JOIN mail_names plan ON plan.id = s.plan_id "
        "WHERE s.subscription_id = %s",
        (event["notification_id"], event["aggregate_id"]),
    )
    row = cur.fetchone()
    return Recipient(*row) if row else None


def _tell(cur: Any, event: dict[str, Any], kind: str, key: str, facts: dict[str, Any]) -> None:
    """Decide one message to the subscriber of the event's subscription (nothing for events before e-mail)."""
    recipient = _recipient(cur, event)
    if recipient is None or not recipient.beyond_horizon or recipient.email is None:
        return  # no subscriber known, an event from before e-mail, or a subscriber erased
    decided_at = _instant(event["data"].get("at") or event["occurred_at"])
    dedup_key = f"{kind}:{key}"
    if not smtp_can_carry(recipient.email):
        record_undeliverable(cur, dedup_key, kind, recipient.email, decided_at, UNCARRIABLE, recipient.producer_id,
                             recipient.subscription_id)
        return
    rendered = compose(kind, locale_for(recipient.country), recipient.name, recipient.email, {**recipient.context(), **facts},
                       decided_at=decided_at, message_key=dedup_key)
    enqueue(cur, OutgoingMail(
        dedup_key=dedup_key, kind=kind, recipient=recipient.email, sender_name=recipient.producer_name or None,
        subject=rendered.subject, message=rendered.message, decided_at=decided_at, producer_id=recipient.producer_id,
        subscription_id=recipient.subscription_id,
    ))


# ------------------------------------------------------------------ the catalog: names for messages
@notifier.on("ProducerRegistered")
def when_producer_registered(cur: Any, e: dict[str, Any]) -> None:
    _name(cur, e["aggregate_id"], e["data"]["name"], e["data"]["email"])


@notifier.on("ProductCreated", "PlanCreated")
def when_product_or_plan_created(cur: Any, e: dict[str, Any]) -> None:
    _name(cur, e["aggregate_id"], e["data"]["name"], None)


@notifier.on("PlanRevised")
def when_plan_revised(cur: Any, e: dict[str, Any]) -> None:
    name = e["data"]["changes"].get("name")
    if name is not None:
        cur.execute("UPDATE mail_names SET name = %s WHERE id = %s", (name, e["aggregate_id"]))


def _name(cur: Any, aggregate_id: str, name: str, email: str | None) -> None:
    cur.execute(
        "INSERT INTO mail_names (id, name, email) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
        "email = EXCLUDED.email",
        (aggregate_id, name, email),
    )


# ------------------------------------------------------------------ the subscriber and their payment method
@notifier.on("SubscriptionStarted")
def when_subscription_started(cur: Any, e: dict[str, Any]) -> None:
    data, subscriber = e["data"], e["data"]["subscriber"]
    cur.execute(
        "INSERT INTO mail_subscribers (subscription_id, producer_id, product_id, plan_id, code, name, email, country, payment_method) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (subscription_id) DO NOTHING",
        (e["aggregate_id"], data["producer_id"], data["product_id"], data["terms"]["plan_id"], data["code"], subscriber["name"],
         subscriber["email"], subscriber.get("country"), json.dumps(_card_facts(data["payment_method"]))),
    )


def _card_facts(payment_method: dict[str, Any]) -> dict[str, Any]:
    return {key: payment_method[key] for key in ("type", "brand", "last4") if payment_method.get(key) is not None}


@notifier.on("PaymentMethodChanged")
def when_payment_method_changed(cur: Any, e: dict[str, Any]) -> None:
    # A refusal not yet told is moot once a new card arrives: the retry it was waiting for runs at once.
    cur.execute(
        "UPDATE mail_subscribers SET payment_method = %s, refusal_told = true WHERE subscription_id = %s",
        (json.dumps(_card_facts(e["data"]["payment_method"])), e["aggregate_id"]),
    )


@notifier.on("SubscriberErased")
def when_subscriber_erased(cur: Any, e: dict[str, Any]) -> None:
    """The subscriber is forgotten here too: no more mail to them, and what was kept of the mail already decided (the
    outbox's recipient and message; the sandbox SMTP sink's copies) is blanked. Mail an SMTP server accepted is beyond reach."""
    subscription_id = e["aggregate_id"]
    cur.execute("SELECT email FROM mail_subscribers WHERE subscription_id = %s", (subscription_id,))
    row = cur.fetchone()
    cur.execute(
        "UPDATE mail_subscribers SET name = NULL, email = NULL, country = NULL, payment_method = payment_method - 'brand' - 'last4' "
        "WHERE subscription_id = %s",
        (subscription_id,),
    )
    cur.execute(
        "UPDATE email_outbox SET recipient = '', message = '', last_error = NULL, "
        "status = CASE WHEN status = 'pending' THEN 'erased' ELSE status END WHERE subscription_id = %s",
        (subscription_id,),
    )
    if row is not None and row[0]:
        cur.execute("DELETE FROM sandbox_mailbox WHERE recipients @> ARRAY[%s]::text[]", (row[0],))


@notifier.on("PlanChanged")
def when_plan_changed(cur: Any, e: dict[str, Any]) -> None:
    if e["data"].get("applies_now"):
        _plan(cur, e, e["data"]["terms"]["plan_id"])


def _plan(cur: Any, e: dict[str, Any], plan_id: str) -> None:
    cur.execute("UPDATE mail_subscribers SET plan_id = %s WHERE subscription_id = %s", (plan_id, e["aggregate_id"]))


# ------------------------------------------------------------------ charges
@notifier.on("ChargeSucceeded")
def when_charge_succeeded(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    if data.get("new_terms"):
        _plan(cur, e, data["new_terms"]["plan_id"])
    _tell(cur, e, "payment_receipt", data["key"], {
        "amount": _money(data), "paid_at": _instant(data["at"]), "installment": data["installment"],
        "installments": data["installments"], "charge_id": data["gateway_charge_id"],
    })
    cur.execute("UPDATE mail_subscribers SET last_refusal = NULL, refusal_told = false WHERE subscription_id = %s", (e["aggregate_id"],))


@notifier.on("ChargeRefunded")
def when_charge_refunded(cur: Any, e: dict[str, Any]) -> None:
    """Every refund, recur's or one made at the gateway, tells the buyer; the charge is named as the receipt named it."""
    data = e["data"]
    _tell(cur, e, "refund", data["refund_id"], {
        "amount": _money(data), "refunded_at": _instant(data["at"]), "charge_id": data["gateway_charge_id"],
    })


@notifier.on("ChargeFailed")
def when_charge_failed(cur: Any, e: dict[str, Any]) -> None:
    """Kept until the retry decision that follows it: the message says when the next retry is."""
    data = e["data"]
    refusal = {"key": data["key"], "amount": data["amount"], "currency": data["currency"], "reason": data["reason"], "at": data["at"]}
    cur.execute("UPDATE mail_subscribers SET last_refusal = %s, refusal_told = false WHERE subscription_id = %s",
                (json.dumps(refusal), e["aggregate_id"]))


@notifier.on("RetryScheduled")
def when_retry_scheduled(cur: Any, e: dict[str, Any]) -> None:
    recipient = _recipient(cur, e)
    if recipient is None or recipient.last_refusal is None or recipient.refusal_told:
        return  # a retry resumed by a new card, not a refusal to tell
    refusal, data = recipient.last_refusal, e["data"]
    next_retry_at = data.get("next_retry_at")
    _tell(cur, e, "charge_failed", refusal["key"], {
        "amount": _money(refusal), "reason": refusal["reason"], "failed_at": _instant(refusal["at"]),
        "next_retry_at": _instant(next_retry_at) if next_retry_at else None,
        "waiting_for_new_payment_method": bool(data.get("waiting_for_new_payment_method")),
    })
    _refusal_told(cur, e)


@notifier.on("RetriesExhausted")
def when_retries_exhausted(cur: Any, e: dict[str, Any]) -> None:
    recipient = _recipient(cur, e)
    if recipient is None or recipient.last_refusal is None:
        return  # nothing known to have been refused (history before e-mail existed)
    refusal = recipient.last_refusal
    _tell(cur, e, "retries_exhausted", refusal["key"], {
        "amount": _money(refusal), "attempts": e["data"]["attempts"], "at": _instant(e["data"]["at"]),
    })
    _refusal_told(cur, e)


def _refusal_told(cur: Any, e: dict[str, Any]) -> None:
    cur.execute("UPDATE mail_subscribers SET refusal_told = true WHERE subscription_id = %s", (e["aggregate_id"],))


@notifier.on("BoletoIssued")
def when_boleto_issued(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    _tell(cur, e, "boleto_issued", data["boleto_id"], {
        "amount": _money(data), "due_date": date.fromisoformat(data["due_date"]), "line": data["line"],
        "installment": data["installment"], "installments": data["installments"],
    })


# ------------------------------------------------------------------ the billing clock's notices, and the end
@notifier.on("RenewalUpcoming")
def when_renewal_upcoming(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    _tell(cur, e, "renewal_reminder", f"{e['aggregate_id']}:c{data['cycle']}", {
        "renews_at": _instant(data["renews_at"]), "amount": _money(data), "installments": data["installments"],
        "days_before": data["days_before"],
    })


@notifier.on("TrialEndingSoon")
def when_trial_ending_soon(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    _tell(cur, e, "trial_ending", e["aggregate_id"], {"trial_ends_at": _instant(data["trial_ends_at"]), "amount": _money(data)})


@notifier.on("Cancelled")
def when_cancelled(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    _tell(cur, e, "cancelled", e["aggregate_id"], {"cancelled_at": _instant(data["at"]), "origin": data["origin"],
                                                  "reason": data.get("reason")})


# ------------------------------------------------------------------ producers: a webhook endpoint disabled for failing
ENDPOINT_DISABLED = "webhook_endpoint_disabled"
PRODUCER_LOCALE = "en"  # producers have no language setting yet
PLATFORM = "recur"  # the platform tells the producer


@notifier.on("WebhookEndpointCreated")
def when_webhook_endpoint_created(cur: Any, e: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO mail_webhook_endpoints (id, producer_id, url) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url",
        (e["aggregate_id"], e["data"]["producer_id"], e["data"]["url"]),
    )


@notifier.on("WebhookEndpointUpdated")
def when_webhook_endpoint_updated(cur: Any, e: dict[str, Any]) -> None:
    url = e["data"]["changes"].get("url")
    if url is not None:
        cur.execute("UPDATE mail_webhook_endpoints SET url = %s WHERE id = %s", (url, e["aggregate_id"]))


@notifier.on("WebhookEndpointDisabled")
def when_webhook_endpoint_disabled(cur: Any, e: dict[str, Any]) -> None:
    data = e["data"]
    if data["reason"] != FAILING:
        return  # its producer did it: nothing to tell them
    cur.execute(
        "SELECT w.url, w.producer_id::text, coalesce(p.name, ''), p.email, %s > (SELECT last_notification_id FROM notifier_horizon) "
        "FROM mail_webhook_endpoints w LEFT JOIN mail_names p ON p.id = w.producer_id WHERE w.id = %s",
        (e["notification_id"], e["aggregate_id"]),
    )
    row = cur.fetchone()
    if row is None or not row[3] or not row[4]:
        return  # no address known for its producer, or an event from before e-mail existed
    url, producer_id, producer_name, email, _ = row
    disabled_at = _instant(data["at"])
    key = f"{ENDPOINT_DISABLED}:{e['aggregate_id']}:{e['version']}"
    if not smtp_can_carry(email):
        record_undeliverable(cur, key, ENDPOINT_DISABLED, email, disabled_at, UNCARRIABLE, producer_id)
        return
    context = {"producer_name": producer_name, "endpoint_url": url, "endpoint_id": e["aggregate_id"],
               "failing_since": _instant(data["failing_since"] or data["at"]), "disabled_at": disabled_at}
    rendered = compose(ENDPOINT_DISABLED, PRODUCER_LOCALE, producer_name or None, email, context, decided_at=disabled_at,
                       message_key=key)
    enqueue(cur, OutgoingMail(dedup_key=key, kind=ENDPOINT_DISABLED, recipient=email, sender_name=PLATFORM, subject=rendered.subject,
                              message=rendered.message, decided_at=disabled_at, producer_id=producer_id))
