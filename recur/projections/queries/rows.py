"""Rows as dicts of column name -> value, under a statement timeout; lists of them a page at a time."""

from __future__ import annotations

from typing import Any

import psycopg2.extras

from recur.db import Database
from recur.projections.queries import After, Page, page_of


def dict_rows(db: Database, sql: str, params: list[Any], timeout: str = "10s") -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute("SET LOCAL statement_timeout = %s", (timeout,))
        dict_cur = cur.connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        dict_cur.execute(sql, params)
        return [dict(r) for r in dict_cur.fetchall()]


def oldest_first(db: Database, select: str, producer_id: str | None, after: After | None, limit: int) -> Page:
    """The rows of `select` (a SELECT with its WHERE) of one producer, everyone's when `producer_id` is None, oldest
    first by (created_at, id), continuing after `after`: how the catalog and webhook endpoints are listed."""
    sql, params = select, []
    if producer_id:
        sql += " AND producer_id = %s"
        params.append(producer_id)
    if after:
        sql += " AND (created_at, id) > (%s::timestamptz, %s::uuid)"
        params.extend(after)
    sql += " ORDER BY created_at, id LIMIT %s"
    params.append(limit + 1)
    return page_of(dict_rows(db, sql, params), limit, "created_at", "id")
