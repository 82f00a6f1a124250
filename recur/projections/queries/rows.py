"""Rows as dicts of column name -> value, under a statement timeout."""

from __future__ import annotations

from typing import Any

import psycopg2.extras

from recur.db import Database


def dict_rows(db: Database, sql: str, params: list[Any], timeout: str = "10s") -> list[dict[str, Any]]:
    with db.transaction() as cur:
        cur.execute("SET LOCAL statement_timeout = %s", (timeout,))
        dict_cur = cur.connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        dict_cur.execute(sql, params)
        return [dict(r) for r in dict_cur.fetchall()]
