"""The read side of reports: plain SQL over read-model tables, never the domain model.

Each row says what a report item says, under the same names (nested objects built in SQL), so the API dumps rows as
they come, into JSON pages and CSV or XLSX files alike. Pages continue after the (created_at, transaction_id) or
(created_at, subscription_id) of the last row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recur.db import Database
from recur.projections.queries.rows import dict_rows


def _page(db: Database, sql: str, params: list[Any], product_column: str, product_id: str | None,
          sort: tuple[str, str, str], after: tuple[str, str] | None, limit: int | None) -> list[dict[str, Any]]:
    """Filter by product, continue after a cursor, order and limit: what every report shares."""
    sort_column, id_column, id_type = sort
    if product_id:
        sql += f" AND {product_column} = %s"
        params.append(product_id)
    if after:
        sql += f" AND ({sort_column}, {id_column}) > (%s::timestamptz, %s::{id_type})"
        params.extend(after)
    sql += f" ORDER BY {sort_column}, {id_column}"
    if limit:
        sql += " LIMIT %s"
        params.append(limit)
    return dict_rows(db, sql, params, timeout="30s")


TRANSACTION_ORDER = ("t.created_at", "t.transaction_id", "text")
BUYER = "json_build_object('name', s.subscriber_name, 'email', s.subscriber_email) AS buyer"
TRANSACTION = (
    f"t.transaction_id, t.subscription_id, t.created_at, {BUYER}, t.status, "
    "json_build_object('amount', t.amount, 'currency', t.currency) AS amount, "
    "json_build_object('number', t.installment_number, 'total', t.installment_total) AS installment"
)


def sales(db: Database, producer_id: str, start: datetime, end: datetime, product_id: str | None,
          after: tuple[str, str] | None, limit: int | None) -> list[dict[str, Any]]:
    """Transactions created or updated in [start, end)."""
    sql = (
        f"SELECT {TRANSACTION}, t.updated_at, s.product_id, p.name AS product_name, t.plan_id, t.decline_reason, "
        "true AS is_subscription, t.payment_method, "
        "json_build_object('amount', t.refunded_amount, 'currency', t.currency) AS refunded_amount, t.dispute_status "
        "FROM rm_transactions t LEFT JOIN rm_subscriptions s ON s.id = t.subscription_id "
        "LEFT JOIN rm_products p ON p.id = s.product_id "
        "WHERE t.producer_id = %s AND ((t.created_at >= %s AND t.created_at < %s) OR (t.updated_at >= %s AND t.updated_at < %s))"
    )
    return _page(db, sql, [producer_id, start, end, start, end], "s.product_id", product_id, TRANSACTION_ORDER, after, limit)


def subscriptions(db: Database, producer_id: str, start: datetime, end: datetime, product_id: str | None,
                  after: tuple[str, str] | None, limit: int | None) -> list[dict[str, Any]]:
    """Subscriptions created or updated in [start, end)."""
    sql = (
        "SELECT id AS subscription_id, code, json_build_object('name', subscriber_name, 'email', subscriber_email) AS subscriber, "
        "product_id, plan_id, status, started_at AS created_at, updated_at, paid_recurrences, "
        "json_build_object('amount', total_paid, 'currency', currency) AS total_paid, "
        "json_build_object('amount', total_refunded, 'currency', currency) AS total_refunded, cancelled_at, cancellation_origin "
        "FROM rm_subscriptions WHERE producer_id = %s AND "
        "((started_at >= %s AND started_at < %s) OR (updated_at >= %s AND updated_at < %s))"
    )
    return _page(db, sql, [producer_id, start, end, start, end], "product_id", product_id, ("started_at", "id", "uuid"), after, limit)


def installments(db: Database, producer_id: str, start: datetime, end: datetime, product_id: str | None,
                 after: tuple[str, str] | None, limit: int | None) -> list[dict[str, Any]]:
    """Charges of installment plans (more than one installment per cycle) created in [start, end)."""
    sql = (
        f"SELECT {TRANSACTION}, s.product_id, (t.due_at AT TIME ZONE 'UTC')::date AS due_date FROM rm_transactions t "
        "LEFT JOIN rm_subscriptions s ON s.id = t.subscription_id "
        "WHERE t.producer_id = %s AND t.installment_total > 1 AND t.created_at >= %s AND t.created_at < %s"
    )
    return _page(db, sql, [producer_id, start, end], "s.product_id", product_id, TRANSACTION_ORDER, after, limit)
