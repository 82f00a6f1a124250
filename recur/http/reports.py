"""Reports and the cancellation dashboard (producer; admin with producer_id).

`report_file` is the one place a report becomes a CSV or XLSX file: the endpoints answer with it and the scheduled
reports (recur.scheduled_reports) attach it, so a report e-mailed for a period is the file the endpoint gives for
that period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response
from marshmallow import Schema

from recur.db import Database
from recur.http.auth import Caller
from recur.http.context import services
from recur.http.export import CONTENT_TYPES, XLSX, file_content, file_response
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


@dataclass(frozen=True)
class ReportFile:
    content: bytes
    content_type: str  # as served: "text/csv; charset=utf-8"
    filename: str
    rows: int

    @property
    def media_type(self) -> str:
        """The content type without its parameters ("text/csv"), as an e-mail attachment's part is typed."""
        return self.content_type.partition(";")[0].strip()


def report_file(report_name: str, db: Database, producer_id: str, start: datetime, end: datetime, fmt: str,
                product_id: str | None = None, filename: str | None = None) -> ReportFile:
    """The whole of [start, end) as a csv or xlsx file; named `<report>-report.<fmt>` unless `filename` (no extension) says."""
    report = REPORTS[report_name]
    rows = report.query(db, producer_id, start, end, product_id, None, None)
    items = report.item(many=True).dump(rows)
    title = f"{report.name}-report"
    return ReportFile(file_content(items, columns(report.item), fmt, title), CONTENT_TYPES[fmt], f"{filename or title}.{fmt}", len(items))


def render(report: Report, caller: Caller, query: dict[str, Any]) -> dict[str, Any] | Response:
    producer_id = tenant(caller, query)
    start, end = period(query, services().clock.now())
    if query["format"] != "json":
        found = report_file(report.name, services().db, producer_id, start, end, query["format"], query.get("product_id"))
        return file_response(found.content, found.content_type, found.filename)
    limit = query["limit"]
    rows = report.query(services().db, producer_id, start, end, query.get("product_id"), query.get("cursor"), limit + 1)
    next_cursor = encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1][report.id_key]) if len(rows) > limit else None
    return {"items": rows[:limit], "next_cursor": next_cursor, "from": start, "to": end}


SALES = Report("sales", reports.sales, SaleView, "transaction_id")
SUBSCRIPTIONS = Report("subscriptions", reports.subscriptions, SubscriptionReportItemView, "subscription_id")
INSTALLMENTS = Report("installments", reports.installments, InstallmentReportItemView, "transaction_id")
REPORTS = {report.name: report for report in (SALES, SUBSCRIPTIONS, INSTALLMENTS)}


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
