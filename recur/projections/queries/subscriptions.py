"""Subscriptions as the subscriptions read model knows them."""

from __future__ import annotations

from recur.db import Database
from recur.projections.queries import After, Page, page_of
from recur.projections.queries.rows import dict_rows

FILTERS = ("producer_id", "product_id", "plan_id", "status")


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
    sql = f"SELECT * FROM rm_subscriptions WHERE {' AND '.join(where)} ORDER BY started_at, id LIMIT %s"
    params.append(limit + 1)
    return page_of(dict_rows(db, sql, params), limit, "started_at", "id")

