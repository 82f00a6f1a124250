"""The subscription list: one row per subscription, as producers filter and page through it."""

from __future__ import annotations

from typing import Any

from recur.contract.topics import SUBSCRIPTIONS
from recur.projections.base import Projection

subscriptions = Projection("subscriptions", [SUBSCRIPTIONS], ["rm_subscriptions"])


def _touch(cur: Any, e: dict[str, Any], sets: str = "", params: tuple[Any, ...] = ()) -> None:
    prefix = f"{sets}, " if sets else ""
    cur.execute(
        f"UPDATE rm_subscriptions SET {prefix}updated_at = %s, version = %s WHERE id = %s",
        (*params, e["occurred_at"], e["version"], e["aggregate_id"]),
    )


@subscriptions.on("SubscriptionStarted")
def when_subscription_started(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    terms, sub, pm = d["terms"], d["subscriber"], d["payment_method"]
    cur.execute(
        "INSERT INTO rm_subscriptions (id, code, producer_id, product_id, plan_id, offer_id, status, price_amount, currency, "
        "periodicity, installments, subscriber_name, subscriber_email, subscriber_country, payment_type, payment_brand, "
        "payment_last4, started_at, updated_at, version) "
        "VALUES (%s,%s,%s,%s,%s,%s,'pending',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id) DO NOTHING",
        (
            e["aggregate_id"],
            d["code"],
            d["producer_id"],
            d["product_id"],
            terms["plan_id"],
            terms["offer_id"],
            terms["price"]["amount"],
            terms["price"]["currency"],
            terms["periodicity"],
            terms["installments"],
            sub["name"],
            sub["email"],
            sub.get("country"),
            pm["type"],
            pm.get("brand"),
            pm.get("last4"),
            d["started_at"],
            d["started_at"],
            e["version"],
        ),
    )


@subscriptions.on("TrialStarted")
def when_trial_started(cur: Any, e: dict[str, Any]) -> None:
    _touch(cur, e, "status = 'trialing', trial_ends_at = %s", (e["data"]["trial_ends_at"],))


@subscriptions.on("ChargeSucceeded")
def when_charge_succeeded(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    _touch(cur, e, "status = %s, paid_recurrences = paid_recurrences + 1, total_paid = total_paid + %s", (d["status"], d["amount"]))
    terms = d.get("new_terms")
    if terms:
        cur.execute(
            "UPDATE rm_subscriptions SET plan_id = %s, offer_id = %s, price_amount = %s, periodicity = %s, installments = %s WHERE id = %s",
            (terms["plan_id"], terms["offer_id"], terms["price"]["amount"], terms["periodicity"], terms["installments"], e["aggregate_id"]),
        )


@subscriptions.on("ChargeFailed", "BoletoExpired")
def when_charge_failed(cur: Any, e: dict[str, Any]) -> None:
    _touch(cur, e, "status = %s", (e["data"]["status"],))


@subscriptions.on("RetriesExhausted")
def when_retries_exhausted(cur: Any, e: dict[str, Any]) -> None:
    _touch(cur, e, "status = 'inactive'")


@subscriptions.on("PaymentMethodChanged")
def when_payment_method_changed(cur: Any, e: dict[str, Any]) -> None:
    pm = e["data"]["payment_method"]
    _touch(cur, e, "payment_type = %s, payment_brand = %s, payment_last4 = %s", (pm["type"], pm.get("brand"), pm.get("last4")))


@subscriptions.on("SubscriberErased")
def when_subscriber_erased(cur: Any, e: dict[str, Any]) -> None:
    _touch(cur, e, "subscriber_name = NULL, subscriber_email = NULL, subscriber_country = NULL, payment_brand = NULL, "
           "payment_last4 = NULL, erased = true")


@subscriptions.on("PlanChanged")
def when_plan_changed(cur: Any, e: dict[str, Any]) -> None:
    # Before the first charge is under way the new plan applies at once; otherwise at renewal (ChargeSucceeded.new_terms).
    # A version-1 event has no `applies_now` (null): the plan applied at once when no charge had been paid yet,
    # as the aggregate decides on replay (Subscription._plan_changed).
    terms = e["data"]["terms"]
    applies_now = e["data"]["applies_now"]
    if applies_now is False:
        _touch(cur, e)
        return
    cur.execute(
        "UPDATE rm_subscriptions SET plan_id = %s, offer_id = %s, price_amount = %s, periodicity = %s, installments = %s "
        "WHERE id = %s AND (%s OR paid_recurrences = 0)",
        (terms["plan_id"], terms["offer_id"], terms["price"]["amount"], terms["periodicity"], terms["installments"], e["aggregate_id"],
         applies_now is True),
    )
    _touch(cur, e)


@subscriptions.on("Cancelled")
def when_cancelled(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    _touch(
        cur,
        e,
        "status = 'cancelled', cancelled_at = %s, cancellation_origin = %s, cancellation_reason = %s",
        (d["at"], d["origin"], d.get("reason")),
    )


@subscriptions.on("ChargeRefunded")
def when_charge_refunded(cur: Any, e: dict[str, Any]) -> None:
    """total_paid is net of what went back to the buyer."""
    amount = e["data"]["amount"]
    _touch(cur, e, "total_paid = total_paid - %s, total_refunded = total_refunded + %s", (amount, amount))


@subscriptions.on("DisputeClosed")
def when_dispute_closed(cur: Any, e: dict[str, Any]) -> None:
    """A lost dispute is money gone back to the buyer, like a refund."""
    amount = e["data"]["amount"] if e["data"]["outcome"] == "lost" else 0
    _touch(cur, e, "total_paid = total_paid - %s, total_refunded = total_refunded + %s", (amount, amount))


@subscriptions.on(
    "ChargeAttempted", "RetryScheduled", "BoletoIssued", "BoletoPaid", "BillingDayChanged", "CancellationScheduled", "Rescheduled",
    "RenewalUpcoming", "TrialEndingSoon", "RefundRequested", "RefundPending", "RefundFailed", "ChargeDisputed",
)
def when_anything_else(cur: Any, e: dict[str, Any]) -> None:
    _touch(cur, e)
