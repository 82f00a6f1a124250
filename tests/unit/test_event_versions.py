"""Events recorded by version 1 of an event class still replay after the class gained fields."""

from __future__ import annotations

from typing import Any

from domain_builders import JAN_31, active_subscription, plan_terms, start_subscription, utc
from event_corpus import ADDED_IN_V2, version_1_state
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from recur.domain.subscription import Subscription


def as_version_1(stored: StoredEvent) -> StoredEvent:
    """The stored event as version 1 wrote it."""
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, version_1_state(stored.topic, stored.state))


def test_a_subscription_recorded_by_version_1_events_replays_to_the_same_state() -> None:
    app = Application[Any](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    sub = active_subscription()
    next_charge = sub.next_charge_at
    assert next_charge is not None
    request = sub.begin_charge(next_charge, {"kind": "system", "id": "t", "request_id": ""})
    assert request is not None
    sub.record_charge_approved(request.key, "ch_2", next_charge, {"kind": "system", "id": "t", "request_id": ""})
    app.save(sub)
    stored = app.recorder.select_events(sub.id)
    assert {s.topic.split(":", 1)[1] for s in stored} >= set(ADDED_IN_V2) - {"Subscription.PlanChanged"}

    old = [app.mapper.to_domain_event(as_version_1(s)) for s in stored]
    replayed: Subscription | None = None
    for event in old:
        replayed = event.mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    assert (replayed.status, replayed.paid_recurrences, replayed.total_paid) == ("active", 2, 2000)
    assert replayed.current_period_start == sub.current_period_start == utc(2024, 2, 29)
    attempted = [e for e in old if type(e).__name__ == "ChargeAttempted"]
    assert [e.plan_id for e in attempted] == [None, None]
    assert attempted[0].due_at == attempted[0].at == JAN_31


def replay_as_version_1(sub: Subscription) -> Subscription:
    app = Application[Any](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(sub)
    replayed: Subscription | None = None
    for stored in app.recorder.select_events(sub.id):
        replayed = app.mapper.to_domain_event(as_version_1(stored)).mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    return replayed


def test_a_plan_change_recorded_by_version_1_applies_at_once_only_before_the_first_paid_cycle() -> None:
    actor: Any = {"kind": "system", "id": "t", "request_id": ""}
    quarterly = plan_terms(plan_id="plan-quarterly", periodicity="quarterly", price=2700)

    trialing = start_subscription(trial_days=7)
    trialing.change_plan(quarterly, trialing.product_id, JAN_31, actor)
    assert replay_as_version_1(trialing).plan_id == "plan-quarterly"

    active = active_subscription()
    active.change_plan(quarterly, active.product_id, JAN_31, actor)
    replayed = replay_as_version_1(active)
    assert replayed.plan_id == "plan-basic"
    assert replayed.pending_terms is not None and replayed.pending_terms.plan_id == "plan-quarterly"
