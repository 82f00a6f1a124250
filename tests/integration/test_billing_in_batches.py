"""The billing run in batches: attempts of a batch saved together before the gateway is called, answers recorded
together, never twice even when the gateway's answers are lost, and due work claimed by one pass at a time."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from recur import billing_claims
from recur.commands.billing_batch import bill_batch, start_batch
from recur.commands.gateway import ChargeResult, GatewayOutcomeUnknown
from recur.commands.gateway_calls import GatewayLane
from recur.commands.services import Services
from recur.domain.actor import system_actor
from recur.domain.subscription import Subscription
from recur.gateways.sandbox import SandboxGateway


@dataclasses.dataclass
class StoppedClock:
    """The batch's instant: these tests bill their own subscriptions only, whatever else the shared sandbox holds."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


class AnswersLost(SandboxGateway):
    """The sandbox charges, then the answer never comes back (a network cut, a crash before it was read)."""

    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        super().charge_card(idempotency_key, token, amount, currency, subscription_id=subscription_id)
        raise GatewayOutcomeUnknown(f"attempt {idempotency_key}: the answer was lost")


def renewals_due(producer: Any, recur: Any, count: int) -> tuple[list[str], Services]:
    plan = producer.new_plan()
    subs = [producer.subscribe(plan["id"]) for _ in range(count)]
    renewal = max(datetime.fromisoformat(sub["next_charge_at"]) for sub in subs)
    return [sub["id"] for sub in subs], dataclasses.replace(recur.services, clock=StoppedClock(renewal + timedelta(hours=1)))


def approved_charges(services: Services, sub_ids: list[str]) -> dict[str, int]:
    rows = services.db.fetchall(
        "SELECT split_part(idempotency_key, ':', 1), count(*) FROM gateway_charges WHERE outcome = 'approved' "
        "AND split_part(idempotency_key, ':', 1) = ANY(%s) GROUP BY 1", (sub_ids,))
    return {sub_id: count for sub_id, count in rows}


def test_a_batch_renews_each_due_subscription_once_and_a_second_batch_charges_nothing_more(recur: Any, producer: Any) -> None:
    sub_ids, services = renewals_due(producer, recur, 5)
    lane = GatewayLane(limit=3)
    try:
        first = bill_batch(services, sub_ids, system_actor(), lane)
        second = bill_batch(services, sub_ids, system_actor(), lane)
    finally:
        lane.close()

    assert (sorted(first.billed), first.charges, first.failed) == (sorted(sub_ids), 5, {})
    assert (second.charges, second.failed) == (0, {})
    renewed = services.events.load_many(sub_ids, Subscription)
    assert [(renewed[sub_id].status, renewed[sub_id].paid_recurrences) for sub_id in sub_ids] == [("active", 2)] * 5
    assert approved_charges(services, sub_ids) == dict.fromkeys(sub_ids, 2)


def test_a_batch_started_while_another_awaits_its_answers_renews_each_subscription_once(recur: Any, producer: Any) -> None:
    sub_ids, services = renewals_due(producer, recur, 6)
    lane = GatewayLane(limit=2)
    try:
        first = start_batch(services, sub_ids[:3], system_actor(), lane)
        second = start_batch(services, sub_ids[3:], system_actor(), lane)  # as the run does: decided during first's calls
        outcomes = [first.finish(), second.finish()]
    finally:
        lane.close()

    assert [(sorted(outcome.billed), outcome.charges, outcome.failed) for outcome in outcomes] == [
        (sorted(sub_ids[:3]), 3, {}), (sorted(sub_ids[3:]), 3, {})]
    renewed = services.events.load_many(sub_ids, Subscription)
    assert [renewed[sub_id].paid_recurrences for sub_id in sub_ids] == [2] * 6
    assert approved_charges(services, sub_ids) == dict.fromkeys(sub_ids, 2)


def test_attempts_whose_answers_were_lost_stay_in_flight_and_the_next_run_settles_them_by_key(recur: Any, producer: Any) -> None:
    sub_ids, services = renewals_due(producer, recur, 3)
    cut_off = dataclasses.replace(services, gateway=AnswersLost(services.db))
    lane = GatewayLane(limit=3)
    try:
        lost = bill_batch(cut_off, sub_ids, system_actor(), lane)
        in_flight = services.events.load_many(sub_ids, Subscription)
        settled = bill_batch(services, sub_ids, system_actor(), lane)
    finally:
        lane.close()

    assert (lost.in_flight, sorted(lost.failed), lost.billed) == (3, sorted(sub_ids), [])
    assert all(in_flight[sub_id].inflight is not None for sub_id in sub_ids)
    assert (settled.charges, sorted(settled.billed)) == (3, sorted(sub_ids))
    after = services.events.load_many(sub_ids, Subscription)
    assert [after[sub_id].paid_recurrences for sub_id in sub_ids] == [2] * 3
    assert approved_charges(services, sub_ids) == dict.fromkeys(sub_ids, 2), "each renewal charged once, by its first key"


def test_two_passes_claim_due_work_without_overlap_and_a_pass_never_takes_a_subscription_twice(recur: Any) -> None:
    db = recur.services.db
    due = [str(uuid.uuid4()) for _ in range(5)]
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    for k, sub_id in enumerate(due):
        db.execute("INSERT INTO rm_billing_schedule (subscription_id, due_at) VALUES (%s, %s)", (sub_id, moment - timedelta(days=5 - k)))
    first, second = billing_claims.new_owner(), billing_claims.new_owner()
    try:
        taken_first = billing_claims.claim_due(db, first, moment, 3)
        taken_second = billing_claims.claim_due(db, second, moment, 10)
        assert (taken_first, taken_second) == (due[:3], due[3:]), "earliest first, and nothing claimed twice"
        assert billing_claims.claim_due(db, first, moment, 10) == []
        assert billing_claims.held_elsewhere(db, first, moment) == 2

        billing_claims.batch_done(db, first, taken_first)
        assert billing_claims.claim_due(db, first, moment, 10) == [], "a pass never takes its own subscriptions again"
        assert billing_claims.claim_due(db, second, moment, 10) == due[:3], "the others may"
    finally:
        billing_claims.finish_pass(db, first)
        billing_claims.finish_pass(db, second)
        db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = ANY(%s::uuid[])", (due,))
    assert db.fetchone("SELECT count(*) FROM billing_claims WHERE subscription_id = ANY(%s::uuid[])", (due,)) == (0,)


def test_a_pass_claims_onwards_from_its_cursor_and_leaves_what_it_went_by_to_the_next_pass(recur: Any) -> None:
    db = recur.services.db
    moment = datetime(2000, 2, 1, tzinfo=UTC)
    due = sorted(str(uuid.uuid4()) for _ in range(5))  # one instant: the subscription id orders them
    for sub_id in due:
        db.execute("INSERT INTO rm_billing_schedule (subscription_id, due_at) VALUES (%s, %s)", (sub_id, moment - timedelta(days=1)))
    held, passing = billing_claims.new_owner(), billing_claims.new_owner()
    cursor = billing_claims.ClaimCursor()
    try:
        assert billing_claims.claim_due(db, held, moment, 1) == due[:1]
        assert billing_claims.claim_due(db, passing, moment, 2, cursor) == due[1:3]
        assert billing_claims.claim_due(db, passing, moment, 10, cursor) == due[3:], "onwards from the cursor"
        billing_claims.batch_done(db, held, due[:1])
        assert billing_claims.claim_due(db, passing, moment, 10, cursor) == [], "what it went by is behind its cursor"
        assert billing_claims.claim_due(db, billing_claims.new_owner(), moment, 10, billing_claims.ClaimCursor()) == due[:1]
    finally:
        db.execute("DELETE FROM billing_claims WHERE subscription_id = ANY(%s::uuid[])", (due,))
        db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = ANY(%s::uuid[])", (due,))
