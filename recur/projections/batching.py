"""Fewer round trips for projection writes: statements are queued and sent many at a time.

Handlers stay one small SQL statement per event. This cursor queues their writes and sends them in
one round trip per hundred statements (already bound by psycopg2's mogrify, so nothing is re-parsed
on our side); a read flushes the queue first, so handlers still see their own writes.
"""

from __future__ import annotations

from typing import Any

FLUSH_EVERY = 100


class BatchingCursor:
    def __init__(self, cur: Any, flush_every: int = FLUSH_EVERY) -> None:
        self.cur = cur
        self.flush_every = flush_every
        self.pending: list[bytes] = []

    def execute(self, sql: str, params: Any = None) -> None:
        if sql.lstrip()[:6].upper() == "SELECT" or "RETURNING" in sql.upper():
            self.flush()
            self.cur.execute(sql, params)
            return
        self.pending.append(self.cur.mogrify(sql, params))
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.cur.execute(b";".join(self.pending))
            self.pending.clear()

    def discard(self) -> None:
        """Forget the queued statements (their event failed and is being rolled back)."""
        self.pending.clear()

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> Any:
        return self.cur.fetchall()
