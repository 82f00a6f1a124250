"""Products and plans as producers list them."""

from __future__ import annotations

from typing import Any

from recur.contract.topics import CATALOG
from recur.projections.base import Projection

catalog = Projection("catalog", [CATALOG], ["rm_products", "rm_plans"])


@catalog.on("ProductCreated")
def when_product_created(cur: Any, e: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO rm_products (id, producer_id, name, created_at) VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (e["aggregate_id"], e["producer_id"], e["data"]["name"], e["recorded_at"]),
    )


@catalog.on("PlanCreated")
def when_plan_created(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute(
        "INSERT INTO rm_plans (id, producer_id, product_id, name, periodicity, price_amount, currency, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (
            e["aggregate_id"],
            e["producer_id"],
            d["product_id"],
            d["name"],
            d["periodicity"],
            d["price"]["amount"],
            d["price"]["currency"],
            e["recorded_at"],
        ),
    )


@catalog.on("PlanRevised")
def when_plan_revised(cur: Any, e: dict[str, Any]) -> None:
    changes = e["data"]["changes"]
    if "name" in changes:
        cur.execute("UPDATE rm_plans SET name = %s WHERE id = %s", (changes["name"], e["aggregate_id"]))
    if "price" in changes:
        cur.execute("UPDATE rm_plans SET price_amount = %s WHERE id = %s", (changes["price"]["amount"], e["aggregate_id"]))
