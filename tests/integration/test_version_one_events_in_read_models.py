"""Read models give a version-1 event the meaning the aggregate gives it on replay, so a rebuild from old
history shows what the subscription really is."""

from __future__ import annotations

from typing import Any

from recur_api import Api

from recur.projections.subscriptions import when_plan_changed


def _version_one_plan_change(sub: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """A PlanChanged as version 1 recorded it, upcast: `applies_now` unknown (null)."""
    terms = {"plan_id": plan["id"], "offer_id": None, "price": plan["price"], "periodicity": plan["periodicity"], "installments": 1}
    return {"aggregate_id": sub["id"], "version": sub["version"] + 1, "occurred_at": sub["started_at"],
            "data": {"terms": terms, "applies_now": None}}


def _plan_after(recur: Any, sub: dict[str, Any], plan: dict[str, Any]) -> str:
    with recur.services.db.transaction() as cur:
        when_plan_changed(cur, _version_one_plan_change(sub, plan))
        cur.execute("SELECT plan_id::text FROM rm_subscriptions WHERE id = %s", (sub["id"],))
        plan_id: str = cur.fetchone()[0]
        cur.connection.rollback()  # only looking
    return plan_id


def test_a_version_one_plan_change_before_any_payment_applies_at_once_as_on_replay(producer: Api, recur: Any) -> None:
    trial = producer.new_plan(trial_days=7)
    sub = producer.subscribe(trial["id"])
    annual = producer.new_plan(name="Annual", periodicity="annual")
    recur.caught_up()
    assert _plan_after(recur, sub, annual) == annual["id"]


def test_a_version_one_plan_change_after_a_payment_waits_for_the_renewal_as_on_replay(producer: Api, recur: Any) -> None:
    monthly = producer.new_plan()
    sub = producer.subscribe(monthly["id"])
    annual = producer.new_plan(name="Annual", periodicity="annual")
    recur.caught_up()
    assert sub["paid_recurrences"] == 1
    assert _plan_after(recur, sub, annual) == monthly["id"]
