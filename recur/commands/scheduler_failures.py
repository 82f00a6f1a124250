"""Billing that fails unexpectedly is set aside for a while, not retried every second.

A subscription whose billing raises an error the domain did not foresee (a bug, data the gateway
refuses, a gateway down) is recorded with the error and skipped until `retry_at`: 10 s after the
first failure, doubling up to an hour. The others are billed meanwhile; the first success clears the
record. The backoff runs on the database's wall clock, not the billing clock: in the sandbox that
clock stands still between advances, and a failing subscription must not hold an advance back either.

A report schedule whose period fails to be reported (recur.scheduled_reports) is set aside the same way, under its
own id: the column is named for subscriptions, which came first, and ids are UUIDs, never shared.
"""

from __future__ import annotations

from recur.db import Database, describe_error

FIRST_DELAY_S = 10
MAX_DELAY_S = 3600


def not_backing_off(id_column: str) -> str:
    """A condition leaving out what waits out a backoff, for a query whose `id_column` holds the id of what is due."""
    return f"NOT EXISTS (SELECT 1 FROM scheduler_failures f WHERE f.subscription_id = {id_column} AND f.retry_at > now())"


# For a query over rm_billing_schedule aliased `b`: leaves out subscriptions waiting out a backoff.
NOT_BACKING_OFF = not_backing_off("b.subscription_id")


def record_failure(db: Database, subscription_id: str, error: BaseException) -> None:
    error_class, message = describe_error(error)
    db.execute(
        "INSERT INTO scheduler_failures (subscription_id, error_class, error_message, retry_at) "
        "VALUES (%(id)s, %(class)s, %(message)s, now() + make_interval(secs => %(first)s)) "
        "ON CONFLICT (subscription_id) DO UPDATE SET error_class = EXCLUDED.error_class, error_message = EXCLUDED.error_message, "
        "attempts = scheduler_failures.attempts + 1, last_failed_at = now(), "
        "retry_at = now() + make_interval(secs => least(%(first)s * 2 ^ scheduler_failures.attempts, %(max)s))",
        {"id": subscription_id, "class": error_class, "message": message, "first": FIRST_DELAY_S, "max": MAX_DELAY_S},
    )


def clear(db: Database, subscription_ids: list[str]) -> None:
    if subscription_ids:
        db.execute("DELETE FROM scheduler_failures WHERE subscription_id = ANY(%s::uuid[])", (subscription_ids,))


def count(db: Database) -> int:
    row = db.fetchone("SELECT count(*) FROM scheduler_failures")
    return int(row[0]) if row else 0
