"""Reports and the cancellation dashboard (producer; admin with producer_id)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, request

from recur.http.auth import Caller, require
from recur.http.context import services
from recur.http.export import file_response
from recur.http.pagination import decode_cursor, encode_cursor, page_limit
from recur.http.query import as_uuid, invalid, optional_uuid, within_accepted_dates
from recur.http.request_deadline import allow_seconds
from recur.http.views import iso
from recur.projections.queries import dashboard, reports

bp = Blueprint("reports", __name__)
FORMATS = ("json", "csv", "xlsx")


def _instant(field: str, raw: str, end_of_day: bool) -> datetime:
    """A date means the whole day (`to` includes it); a timestamp is taken as is."""
    whole_day = len(raw) == 10
    try:
        if whole_day:
            moment = datetime.combine(date.fromisoformat(raw), time(), UTC)
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        raise invalid(field, "must be a date (2026-11-01) or an ISO 8601 timestamp") from None
    moment = within_accepted_dates(field, moment)
    return moment + timedelta(days=1) if whole_day and end_of_day else moment


def period() -> tuple[datetime, datetime]:
    now = services().clock.now()
    end = _instant("to", request.args["to"], True) if request.args.get("to") else now
    start = _instant("from", request.args["from"], False) if request.args.get("from") else (end - timedelta(days=30))
    if start >= end:
        raise invalid("from", "must be before to")
    if end - start > timedelta(days=3 * 366):
        raise invalid("from", "the period is limited to three years")
    return start, end


def tenant(caller: Caller) -> str:
    producer_id = caller.producer_id or request.args.get("producer_id")
    if not producer_id:
        raise invalid("producer_id", "is required with admin credentials")
    return as_uuid("producer_id", producer_id)


def output_format() -> str:
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise invalid("format", f"must be one of {', '.join(FORMATS)}")
    return fmt


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def sale_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": r["transaction_id"],
        "subscription_id": str(r["subscription_id"]),
        "created_at": iso(r["created_at"]),
        "updated_at": iso(r["updated_at"]),
        "buyer": {"name": r["subscriber_name"], "email": r["subscriber_email"]},
        "product_id": str(r["product_id"]) if r["product_id"] else None,
        "product_name": r["product_name"],
        "plan_id": str(r["plan_id"]),
        "amount": money(r["amount"], r["currency"]),
        "status": r["status"],
        "decline_reason": r["decline_reason"],
        "is_subscription": True,
        "installment": {"number": r["installment_number"], "total": r["installment_total"]},
        "payment_method": r["payment_method"],
    }


def subscription_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscription_id": str(r["id"]),
        "code": r["code"],
        "subscriber": {"name": r["subscriber_name"], "email": r["subscriber_email"]},
        "product_id": str(r["product_id"]),
        "plan_id": str(r["plan_id"]),
        "status": r["status"],
        "created_at": iso(r["started_at"]),
        "updated_at": iso(r["updated_at"]),
        "paid_recurrences": r["paid_recurrences"],
        "total_paid": money(r["total_paid"], r["currency"]),
        "cancelled_at": iso(r["cancelled_at"]),
        "cancellation_origin": r["cancellation_origin"],
    }


def installment_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": r["transaction_id"],
        "subscription_id": str(r["subscription_id"]),
        "buyer": {"name": r["subscriber_name"], "email": r["subscriber_email"]},
        "product_id": str(r["product_id"]) if r["product_id"] else None,
        "installment": {"number": r["installment_number"], "total": r["installment_total"]},
        "due_date": r["due_at"].date().isoformat(),
        "amount": money(r["amount"], r["currency"]),
        "status": r["status"],
        "created_at": iso(r["created_at"]),
    }


@dataclass(frozen=True)
class Report:
    """A report's query and item shape, and the sort key and id its pages continue after."""

    query: Callable[..., list[dict[str, Any]]]
    item: Callable[[dict[str, Any]], dict[str, Any]]
    sort_key: str
    id_key: str
    id_is_uuid: bool


REPORTS = {
    "sales": Report(reports.sales, sale_item, "created_at", "transaction_id", id_is_uuid=False),
    "subscriptions": Report(reports.subscriptions, subscription_item, "started_at", "id", id_is_uuid=True),
    "installments": Report(reports.installments, installment_item, "created_at", "transaction_id", id_is_uuid=False),
}
HEADERS = {
    "sales": ["transaction_id", "subscription_id", "created_at", "updated_at", "buyer.name", "buyer.email", "product_id",
              "product_name", "plan_id", "amount.amount", "amount.currency", "status", "decline_reason", "is_subscription",
              "installment.number", "installment.total", "payment_method"],
    "subscriptions": ["subscription_id", "code", "subscriber.name", "subscriber.email", "product_id", "plan_id", "status",
                      "created_at", "updated_at", "paid_recurrences", "total_paid.amount", "total_paid.currency", "cancelled_at",
                      "cancellation_origin"],
    "installments": ["transaction_id", "subscription_id", "buyer.name", "buyer.email", "product_id", "installment.number",
                     "installment.total", "due_date", "amount.amount", "amount.currency", "status", "created_at"],
}


def render_report(name: str) -> dict[str, Any] | Response:
    caller = require("producer", "admin")
    producer_id = tenant(caller)
    start, end = period()
    fmt = output_format()
    report = REPORTS[name]
    product_id = optional_uuid("product_id")
    if fmt != "json":
        rows = report.query(services().db, producer_id, start, end, product_id, None, None)
        return file_response([report.item(r) for r in rows], HEADERS[name], fmt, f"{name}-report")
    limit = page_limit(default=100, maximum=1000)
    after = decode_cursor(request.args.get("cursor"), id_is_uuid=report.id_is_uuid)
    rows = report.query(services().db, producer_id, start, end, product_id, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last[report.sort_key], last[report.id_key])
    return {"items": [report.item(r) for r in rows[:limit]], "next_cursor": next_cursor, "from": iso(start), "to": iso(end)}


@bp.get("/v1/reports/sales")
@allow_seconds(60)
def sales_report() -> dict[str, Any] | Response:
    return render_report("sales")


@bp.get("/v1/reports/subscriptions")
@allow_seconds(60)
def subscriptions_report() -> dict[str, Any] | Response:
    return render_report("subscriptions")


@bp.get("/v1/reports/installments")
@allow_seconds(60)
def installments_report() -> dict[str, Any] | Response:
    return render_report("installments")


@bp.get("/v1/dashboards/cancellations")
@allow_seconds(60)
def cancellations_dashboard() -> dict[str, Any]:
    caller = require("producer", "admin")
    producer_id = tenant(caller)
    start, end = period()
    return dashboard.cancellation_dashboard(services().db, producer_id, start, end, optional_uuid("product_id"),
                                            optional_uuid("plan_id"))
