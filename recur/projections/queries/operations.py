"""What readiness probes and metrics scrapes read."""

from __future__ import annotations

from dataclasses import dataclass

from recur.db import Database


def database_answers(db: Database) -> None:
    """Raises unless the database answers a query."""
    db.fetchone("SELECT 1")


@dataclass(frozen=True)
class StoreFigures:
    head: int  # the highest notification id in the event store
    subscriptions_by_status: dict[str, int]  # from the subscriptions read model, across tenants


def store_figures(db: Database) -> StoreFigures:
    """In one round trip: a scrape should cost the database little."""
    rows = db.fetchall(
        "SELECT NULL::text, coalesce(max(notification_id), 0) FROM recur_events "
        "UNION ALL SELECT status, count(*) FROM rm_subscriptions GROUP BY status"
    )
    head = next((int(count) for status, count in rows if status is None), 0)
    return StoreFigures(head, {str(status): int(count) for status, count in rows if status is not None})
