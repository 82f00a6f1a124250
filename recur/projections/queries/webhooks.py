"""Webhook endpoints as the API lists them, and each endpoint's deliveries, newest first."""

from __future__ import annotations

from typing import Any

from recur.db import Database
from recur.projections.queries import After, Page, page_of
from recur.projections.queries.rows import dict_rows, oldest_first

ENDPOINT_COLUMNS = ("id, producer_id, url, event_types, description, status, disabled_reason, created_at, "
                    "previous_secret_valid_until, version")
DELIVERY_COLUMNS = ("id, endpoint_id, event_id AS webhook_id, type, subscription_id, event_version, status, attempts, "
                    "last_response_status, last_error, last_attempt_at, next_attempt_at, created_at")


def list_webhook_endpoints(db: Database, producer_id: str | None, after: After | None, limit: int) -> Page:
    """A producer's endpoints (everyone's when `producer_id` is None), oldest first; deleted ones are gone."""
    sql = f"SELECT {ENDPOINT_COLUMNS} FROM rm_webhook_endpoints WHERE deleted_at IS NULL"  # noqa: S608 - constant columns
    return oldest_first(db, sql, producer_id, after, limit)


def list_deliveries(db: Database, endpoint_id: str, status: str | None, after: After | None, limit: int) -> Page:
    """An endpoint's deliveries, newest first (by when they were decided), optionally of one status."""
    sql = f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = %s"  # noqa: S608 - constant columns
    params: list[Any] = [endpoint_id]
    if status:
        sql += " AND status = %s"
        params.append(status)
    if after:
        sql += " AND (created_at, id) < (%s::timestamptz, %s::bigint)"
        params.extend(after)
    sql += " ORDER BY created_at DESC, id DESC LIMIT %s"
    params.append(limit + 1)
    return page_of(dict_rows(db, sql, params), limit, "created_at", "id")


def delivery(db: Database, endpoint_id: str, delivery_id: int) -> dict[str, Any] | None:
    rows = dict_rows(db, f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = %s AND id = %s",  # noqa: S608
                     [endpoint_id, delivery_id])
    return rows[0] if rows else None
