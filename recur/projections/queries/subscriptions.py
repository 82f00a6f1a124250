"""Subscriptions as the subscriptions read model knows them."""

from __future__ import annotations

from recur.db import Database
from recur.projections.queries import After, Page, page_of
from recur.projections.queries.rows import dict_rows

FILTERS = ("producer_id", "product_id", "plan_id", "status")
# A row says what a subscription says, under the same names (nested where it nests).
SUMMARY = (
    "id, code, status, producer_id, product_id, plan_id, offer_id, periodicity, installments, started_at, trial_ends_at, "
    "paid_recurrences, total_paid, total_refunded, cancelled_at, updated_at, version, erased, "
    "json_build_object('amount', price_amount, 'currency', currency) AS price, "
    "json_build_object('name', subscriber_name, 'email', subscriber_email, 'country', subscriber_country) AS subscriber, "
    "json_strip_nulls(json_build_object('type', payment_type, 'brand', payment_brand, 'last4', payment_last4)) AS payment_method, "
    "CASE WHEN cancellation_origin IS NULL THEN NULL "
    "ELSE json_build_object('origin', cancellation_origin, 'reason', cancellation_reason) END AS cancellation"
)


def subscription_page(db: Database, filters: dict[str, str | None], after: After | None, limit: int) -> Page:
    """Subscriptions matching every filter given (producer_id, product_id, plan_id, status), oldest first."""
    where, params = ["true"], []
    for name in FILTERS:
        if filters.get(name):
            where.append(f"{name} = %s")
            params.append(filters[name])
    if after:
        where.append("(started_at, id) > (%s::timestamptz, %s::uuid)")
        params.extend(after)
    sql = f"SELECT {SUMMARY} FROM rm_subscriptions WHERE {' AND '.join(where)} ORDER BY started_at, id LIMIT %s"
    params.append(limit + 1)
    return page_of(dict_rows(db, sql, params), limit, "started_at", "id")

