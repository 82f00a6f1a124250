"""Reports and the cancellation dashboard (producer; admin with producer_id)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response
from marshmallow import Schema

from recur.http.auth import Caller
from recur.http.context import services
from recur.http.export import XLSX, file_response
from recur.http.pagination import encode_cursor
from recur.http.query import DashboardQuery, ReportQuery, SubscriptionsReportQuery, invalid, period
from recur.http.representations.kit import columns
from recur.http.representations.reports import (
    DashboardView,
    InstallmentReportItemView,
    InstallmentsReportView,
    SalesReportView,
    SaleView,
    SubscriptionReportItemView,
    SubscriptionsReportView,
)
from recur.http.request_deadline import allow_seconds
from recur.http.routes import PRODUCER, route
from recur.projections.queries import dashboard, reports

bp = Blueprint("reports", __name__)
TAG = "Reports"
FILES = ("application/json", "text/csv", XLSX)


@dataclass(frozen=True)
class Report:
    """A report's query, the schema of its items (JSON and files alike), and the key its pages continue after."""

    name: str
    query: Callable[..., list[dict[str, Any]]]
    item: type[Schema]
    id_key: str


def tenant(caller: Caller, query: dict[str, Any]) -> str:
    producer_id = caller.producer_id or query.get("producer_id")
    if not producer_id:
        raise invalid("producer_id", "is required with admin credentials")
    return str(producer_id)


def render(report: Report, caller: Caller, query: dict[str, Any]) -> dict[str, Any] | Response:
    producer_id = tenant(caller, query)
    start, end = period(query, services().clock.now())
    if query["format"] != "json":
        rows = report.query(services().db, producer_id, start, end, query.get("product_id"), None, None)
        items = report.item(many=True).dump(rows)
        return file_response(items, columns(report.item), query["format"], f"{report.name}-report")
    limit = query["limit"]
    rows = report.query(services().db, producer_id, start, end, query.get("product_id"), query.get("cursor"), limit + 1)
    next_cursor = encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1][report.id_key]) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor, "from": start, "to": end}


SALES = Report("sales", reports.sales, SaleView, "transaction_id")
SUBSCRIPTIONS = Report("subscriptions", reports.subscriptions, SubscriptionReportItemView, "subscription_id")
INSTALLMENTS = Report("installments", reports.installments, InstallmentReportItemView, "transaction_id")


@route(bp.get, "/v1/reports/sales", TAG, "Sales: transactions created or updated in the period", roles=PRODUCER, query=ReportQuery,
       response=SalesReportView, media=FILES)
@allow_seconds(60)
def sales_report(caller: Caller, query: dict[str, Any]) -> dict[str, Any] | Response:
    return render(SALES, caller, query)


@route(bp.get, "/v1/reports/subscriptions", TAG, "Subscriptions created or updated in the period", roles=PRODUCER,
       query=SubscriptionsReportQuery, response=SubscriptionsReportView, media=FILES)
@allow_seconds(60)
def subscriptions_report(caller: Caller, query: dict[str, Any]) -> dict[str, Any] | Response:
    return render(SUBSCRIPTIONS, caller, query)


@route(bp.get, "/v1/reports/installments", TAG, "Installment charges created in the period", roles=PRODUCER, query=ReportQuery,
       response=InstallmentsReportView, media=FILES)
@allow_seconds(60)
def installments_report(caller: Caller, query: dict[str, Any]) -> dict[str, Any] | Response:
    return render(INSTALLMENTS, caller, query)


@route(bp.get, "/v1/dashboards/cancellations", TAG, "Cancellation dashboard", roles=PRODUCER, query=DashboardQuery,
       response=DashboardView, description="lt_months, ltv and avg_paid_recurrences are over the subscriptions cancelled in the period.")
@allow_seconds(60)
def cancellations_dashboard(caller: Caller, query: dict[str, Any]) -> dict[str, Any]:
    producer_id = tenant(caller, query)
    start, end = period(query, services().clock.now())
    return dashboard.cancellation_dashboard(services().db, producer_id, start, end, query.get("product_id"), query.get("plan_id"))
