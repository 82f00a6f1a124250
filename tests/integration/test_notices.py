"""Time-based notices through the real stack: the sandbox clock advance brings the scheduler by when a trial's
end or a renewal is near (the billing schedule says when), the notice is in the audit trail as the system's
doing, and the subscription list keeps in step with the subscription's version."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from recur_api import Api

ADMIN = "adm_integration"


def named(producer: Api, subscription_id: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = producer.get(f"/v1/subscriptions/{subscription_id}/events")["items"]
    return [item for item in items if item["type"].rsplit(".", 1)[-1] == name]


def listed_version(producer: Api, subscription_id: str) -> int:
    (row,) = [item for item in producer.get("/v1/subscriptions")["items"] if item["id"] == subscription_id]
    version: int = row["version"]
    return version


def test_the_clock_advance_records_the_trial_ending_notice_and_the_renewal_reminder_when_they_fall_due(
    api: Api, producer: Api, recur: Any
) -> None:
    admin = api.as_(ADMIN)
    plan = producer.new_plan(trial_days=7, renewal_reminder_days=3)
    sub = producer.subscribe(plan["id"])
    trial_end = datetime.fromisoformat(sub["trial_ends_at"])

    admin.post("/v1/sandbox/clock/advance", {"to": (trial_end - timedelta(days=3, seconds=1)).isoformat()})
    assert named(producer, sub["id"], "TrialEndingSoon") == []
    admin.post("/v1/sandbox/clock/advance", {"to": (trial_end - timedelta(days=3)).isoformat()})

    (notice,) = named(producer, sub["id"], "TrialEndingSoon")
    assert datetime.fromisoformat(notice["occurred_at"]) == trial_end - timedelta(days=3)
    assert notice["actor"]["kind"] == "system"
    assert notice["data"]["amount"] == 4990 and notice["data"]["currency"] == "BRL"
    recur.caught_up()
    assert listed_version(producer, sub["id"]) == producer.get(f"/v1/subscriptions/{sub['id']}")["version"]

    admin.post("/v1/sandbox/clock/advance", {"to": trial_end.isoformat()})
    renews_at = datetime.fromisoformat(producer.get(f"/v1/subscriptions/{sub['id']}")["next_charge_at"])
    admin.post("/v1/sandbox/clock/advance", {"to": (renews_at - timedelta(days=3, seconds=1)).isoformat()})
    assert named(producer, sub["id"], "RenewalUpcoming") == []
    admin.post("/v1/sandbox/clock/advance", {"to": (renews_at - timedelta(days=3)).isoformat()})

    (reminder,) = named(producer, sub["id"], "RenewalUpcoming")
    assert datetime.fromisoformat(reminder["occurred_at"]) == renews_at - timedelta(days=3)
    assert reminder["actor"]["kind"] == "system"
    assert (reminder["data"]["cycle"], reminder["data"]["days_before"], reminder["data"]["amount"]) == (2, 3, 4990)
    assert datetime.fromisoformat(reminder["data"]["renews_at"]) == renews_at
    recur.caught_up()
    assert listed_version(producer, sub["id"]) == producer.get(f"/v1/subscriptions/{sub['id']}")["version"]
    assert len(named(producer, sub["id"], "TrialEndingSoon")) == 1
