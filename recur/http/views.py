"""JSON representations of aggregates and read-model rows, as API.md names them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recur.domain.catalog import Offer, Plan, Product
from recur.domain.subscription import Subscription


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def product_view(product: Product) -> dict[str, Any]:
    return {"id": str(product.id), "producer_id": str(product.producer_id), "name": product.name, "created_at": iso(product.created_on)}


def plan_view(plan: Plan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "producer_id": str(plan.producer_id),
        "product_id": str(plan.product_id),
        "name": plan.name,
        "periodicity": plan.periodicity,
        "price": plan.price,
        "trial_days": plan.trial_days,
        "max_installments": plan.max_installments,
        "retry_policy": plan.retry_policy,
        "renewal_reminder_days": plan.renewal_reminder_days,
        "version": plan.version,
    }


def offer_view(offer: Offer) -> dict[str, Any]:
    return {"id": str(offer.id), "plan_id": offer.plan_id, "name": offer.name, "price": offer.price, "version": offer.version}


def subscription_view(sub: Subscription) -> dict[str, Any]:
    pm = {k: v for k, v in sub.payment_method.items() if k != "token"}
    retry = None
    if sub.retry is not None:
        retry = {
            "attempt": sub.retry.attempt,
            "max_retries": sub.retry.max_retries,
            "next_retry_at": iso(sub.retry.next_retry_at),
            "window_ends_at": iso(sub.retry.window_ends_at),
        }
    boleto = None
    if sub.boleto is not None:
        b = sub.boleto
        boleto = {"id": b.id, "amount": b.amount.as_dict(), "due_date": b.due_date, "line": b.line}
    pending_plan = None
    if sub.pending_terms is not None:
        pending_plan = {
            "plan_id": sub.pending_terms.plan_id,
            "offer_id": sub.pending_terms.offer_id,
            "price": sub.pending_terms.price.as_dict(),
            "periodicity": sub.pending_terms.periodicity,
            "effective_at": iso(sub.current_period_end),
        }
    cancellation = None
    if sub.cancellation is not None:
        cancellation = sub.cancellation.as_dict()
    return {
        "id": str(sub.id),
        "code": sub.code,
        "status": sub.status,
        "producer_id": str(sub.producer_id),
        "product_id": str(sub.product_id),
        "plan_id": sub.plan_id,
        "offer_id": sub.offer_id,
        "price": sub.price.as_dict(),
        "periodicity": sub.periodicity,
        "installments": sub.installments,
        "subscriber": {"name": sub.subscriber.get("name"), "email": sub.subscriber.get("email"), "country": sub.subscriber.get("country")},
        "payment_method": pm,
        "started_at": iso(sub.started_at),
        "trial_ends_at": iso(sub.trial_ends_at),
        "current_period_start": iso(sub.current_period_start),
        "current_period_end": iso(sub.current_period_end),
        "next_charge_at": iso(sub.next_charge_at),
        "paid_recurrences": sub.paid_recurrences,
        "total_paid": {"amount": sub.total_paid, "currency": sub.price.currency},
        "retry": retry,
        "boleto": boleto,
        "pending_plan_change": pending_plan,
        "cancel_at": iso(sub.cancel_at),
        "cancelled_at": iso(sub.cancelled_at),
        "cancellation": cancellation,
        "version": sub.version,
    }


def subscription_row_view(row: dict[str, Any]) -> dict[str, Any]:
    """A subscription as the list (read model) knows it."""
    return {
        "id": str(row["id"]),
        "code": row["code"],
        "status": row["status"],
        "producer_id": str(row["producer_id"]),
        "product_id": str(row["product_id"]),
        "plan_id": str(row["plan_id"]),
        "offer_id": str(row["offer_id"]) if row["offer_id"] else None,
        "price": {"amount": row["price_amount"], "currency": row["currency"]},
        "periodicity": row["periodicity"],
        "installments": row["installments"],
        "subscriber": {"name": row["subscriber_name"], "email": row["subscriber_email"], "country": row["subscriber_country"]},
        "payment_method": {
            k: v
            for k, v in {"type": row["payment_type"], "brand": row["payment_brand"], "last4": row["payment_last4"]}.items()
            if v is not None
        },
        "started_at": iso(row["started_at"]),
        "trial_ends_at": iso(row["trial_ends_at"]),
        "paid_recurrences": row["paid_recurrences"],
        "total_paid": {"amount": row["total_paid"], "currency": row["currency"]},
        "cancelled_at": iso(row["cancelled_at"]),
        "cancellation": {"origin": row["cancellation_origin"], "reason": row["cancellation_reason"]}
        if row["cancellation_origin"]
        else None,
        "updated_at": iso(row["updated_at"]),
        "version": row["version"],
    }
