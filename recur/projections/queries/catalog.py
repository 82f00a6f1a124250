"""The catalog as read models know it: products and plans by producer."""

from __future__ import annotations

from recur.db import Database
from recur.projections.queries import After, Page
from recur.projections.queries.rows import oldest_first


def list_products(db: Database, producer_id: str | None, after: After | None, limit: int) -> Page:
    """A producer's products (everyone's when `producer_id` is None), oldest first."""
    sql = "SELECT id, producer_id, name, created_at FROM rm_products WHERE true"
    return oldest_first(db, sql, producer_id, after, limit)


def product_names(db: Database, producer_id: str) -> list[tuple[str, str]]:
    """(id, name) of each of a producer's products, oldest first."""
    rows = db.fetchall("SELECT id::text, name FROM rm_products WHERE producer_id = %s ORDER BY created_at, id", [producer_id])
    return [(r[0], r[1]) for r in rows]


def plan_names(db: Database, producer_id: str) -> list[tuple[str, str]]:
    """(id, "product · plan") of each of a producer's plans, in product then plan order."""
    rows = db.fetchall(
        "SELECT pl.id::text, pr.name || ' · ' || pl.name FROM rm_plans pl JOIN rm_products pr ON pr.id = pl.product_id "
        "WHERE pl.producer_id = %s ORDER BY pr.created_at, pl.created_at, pl.id", [producer_id])
    return [(r[0], r[1]) for r in rows]
