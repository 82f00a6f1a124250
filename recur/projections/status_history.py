"""Each subscription's status intervals, so the dashboard can count who was active at any instant."""

from __future__ import annotations

from typing import Any

from recur.contract.topics import SUBSCRIPTIONS
from recur.projections.base import Projection

status_history = Projection("status_history", [SUBSCRIPTIONS], ["rm_status_history"])


def _move_to(cur: Any, e: dict[str, Any], status: str, plan_id: str | None = None) -> None:
    """Close the open interval and open one in `status` (only when the status or plan changes)."""
    cur.execute(
        "SELECT status, plan_id::text, producer_id, product_id FROM rm_status_history WHERE subscription_id = %s AND to_at IS NULL",
        (e["aggregate_id"],),
    )
    row = cur.fetchone()
    if row is None:
        return
    current, current_plan, producer_id, product_id = row
    plan = plan_id or current_plan
    if current == status and plan == current_plan:
        return
    at = e["data"]["at"]
    cur.execute("UPDATE rm_status_history SET to_at = %s WHERE subscription_id = %s AND to_at IS NULL", (at, e["aggregate_id"]))
    cur.execute(
        "INSERT INTO rm_status_history (subscription_id, producer_id, product_id, plan_id, status, from_at, version) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (e["aggregate_id"], producer_id, product_id, plan, status, at, e["version"]),
    )


@status_history.on("SubscriptionStarted")
def when_subscription_started(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute(
        "INSERT INTO rm_status_history (subscription_id, producer_id, product_id, plan_id, status, from_at, version) "
        "VALUES (%s, %s, %s, %s, 'pending', %s, %s) ON CONFLICT DO NOTHING",
        (e["aggregate_id"], d["producer_id"], d["product_id"], d["terms"]["plan_id"], d["started_at"], e["version"]),
    )


@status_history.on("TrialStarted")
def when_trial_started(cur: Any, e: dict[str, Any]) -> None:
    _move_to(cur, e, "trialing")


@status_history.on("ChargeSucceeded")
def when_charge_succeeded(cur: Any, e: dict[str, Any]) -> None:
    terms = e["data"].get("new_terms")
    _move_to(cur, e, e["data"]["status"], terms["plan_id"] if terms else None)


@status_history.on("ChargeFailed", "BoletoExpired")
def when_charge_failed(cur: Any, e: dict[str, Any]) -> None:
    _move_to(cur, e, e["data"]["status"])


@status_history.on("RetriesExhausted")
def when_retries_exhausted(cur: Any, e: dict[str, Any]) -> None:
    _move_to(cur, e, "inactive")


@status_history.on("Cancelled")
def when_cancelled(cur: Any, e: dict[str, Any]) -> None:
    _move_to(cur, e, "cancelled")
