"""Time is a port. Production reads the system clock; the sandbox clock lives in PostgreSQL so
that every process (API workers, scheduler, consumers) shares one instant, which stands still
between advances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from recur.db import Database


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SandboxClock:
    def __init__(self, db: Database) -> None:
        self.db = db

    def now(self) -> datetime:
        row = self.db.fetchone("SELECT now FROM sandbox_clock WHERE id = 1")
        if row is None:
            # First use: the sandbox starts at the real present, then only moves when told.
            row = self.db.fetchone(
                "INSERT INTO sandbox_clock (id, now) VALUES (1, date_trunc('second', now())) "
                "ON CONFLICT (id) DO UPDATE SET now = sandbox_clock.now RETURNING now"
            )
            assert row is not None
        moment: datetime = row[0]
        return moment.astimezone(UTC)

    def set(self, moment: datetime) -> None:
        """Move the clock; it never goes backwards (history already happened)."""
        self.now()
        self.db.execute("UPDATE sandbox_clock SET now = greatest(now, %s) WHERE id = 1", (moment,))
