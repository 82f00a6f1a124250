"""Billing a batch of due subscriptions at once: what a renewal run for thousands of subscribers needs.

Per batch, four steps, each one round trip or one pool of calls rather than one per subscription:

1. load every subscription of the batch with one query (`RecurEvents.load_many`);
2. decide in memory what is due on each (housekeeping, the attempt awaiting an answer, a new attempt) and save
   every new attempt of the batch (a transaction per SAVE_CHUNK subscriptions): the attempts are stored before any call;
3. call the gateway for every attempt concurrently, at most the lane's limit in flight;
4. record the answers the same way.

`start_batch` does steps 1-3 and returns while the calls are under way; `StartedBatch.finish` does step 4. The billing
run starts the next batch before it finishes this one, so the main thread loads, decides and saves while the gateway
answers, instead of waiting for it (`bill_batch` does both at once).

Never twice holds as in the serial path (billing.py): an attempt is stored before its call, the call carries its
idempotency key, an answer is accepted only by the attempt still awaiting it. A crash between 2 and 4 leaves attempts in
flight; the next run finds them (`pending_charge`) and asks the gateway again with the same keys.

A batch save that clashes with another writer (a subscriber changing card while the batch was decided) saves nothing:
the batch's subscriptions are then billed one by one through the serial path, which reloads and retries each.
Refunds whose answer is due are settled one subscription at a time afterwards: they are rare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from recur.commands import billing
from recur.commands.event_store import ConcurrentModificationError, NotFoundError
from recur.commands.gateway import BoletoResult, ChargeResult, GatewayOutcomeUnknown
from recur.commands.gateway_calls import Answers, GatewayLane
from recur.commands.refund_settlement import settle_due_refunds
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.subscription import ChargeRequest, Subscription

log = logging.getLogger(__name__)
# Aggregates per event-store save. One save of 500 renewals (about 1.5 MB of events in one statement) was seen to hang
# psycopg 3's pipeline for good (the server waiting to read, the client waiting for results); 100 per save is what the
# benchmarks' loaders have always used, and already makes the save's fixed cost (lock, commit) small per subscription.
SAVE_CHUNK = 100


@dataclass
class BatchOutcome:
    """What a batch did: `billed` subscriptions had their due work done; `failed` ones raised (to be set aside);
    `charges` counts the gateway's answers recorded, `in_flight` the attempts left without one."""

    billed: list[str] = field(default_factory=list)
    failed: dict[str, BaseException] = field(default_factory=dict)
    charges: int = 0
    in_flight: int = 0


@dataclass
class StartedBatch:
    """A batch whose attempts are stored and whose gateway calls are under way (steps 1-3); `finish` waits for the
    answers and records them (step 4). The billing run starts the next batch before finishing this one, so that its
    loading and deciding overlap these calls."""

    services: Services
    actor: Actor
    loaded: dict[str, Subscription]
    requests: dict[str, ChargeRequest]
    answers: Answers[str, ChargeResult | BoletoResult] | None
    outcome: BatchOutcome

    def finish(self) -> BatchOutcome:
        if self.answers is None:
            return self.outcome  # billed one by one already
        _record_answers(self.services, self.loaded, self.requests, self.answers.wait(), self.actor, self.outcome)
        for sub_id, sub in self.loaded.items():
            if sub_id in self.outcome.failed:
                continue
            try:
                settle_due_refunds(self.services, sub, self.actor)
            except Exception as error:  # noqa: BLE001 - one subscription's error is set aside, the batch goes on
                self.outcome.failed[sub_id] = error
                continue
            self.outcome.billed.append(sub_id)
        return self.outcome


def bill_batch(services: Services, sub_ids: list[str], actor: Actor, lane: GatewayLane,
               bill_one: Callable[[str], Subscription] | None = None) -> BatchOutcome:
    """Do everything due now on each subscription of the batch (see the module's docstring)."""
    return start_batch(services, sub_ids, actor, lane, bill_one).finish()


def start_batch(services: Services, sub_ids: list[str], actor: Actor, lane: GatewayLane,
                bill_one: Callable[[str], Subscription] | None = None) -> StartedBatch:
    """Steps 1-3 of the module's docstring: the batch loaded, its attempts stored, their gateway calls handed to the lane."""
    bill_one = bill_one or partial(billing.bill_subscription, services, actor=actor)
    outcome = BatchOutcome()
    loaded: dict[str, Subscription] = services.events.load_many(sub_ids, Subscription)
    for sub_id in sub_ids:
        if sub_id not in loaded:
            outcome.failed[sub_id] = NotFoundError(sub_id)
    now = services.clock.now()
    requests: dict[str, ChargeRequest] = {}
    to_save: list[Subscription] = []
    for sub_id, sub in list(loaded.items()):
        try:
            changed, request = billing.decide_due_work(sub, now, actor)
        except Exception as error:  # noqa: BLE001 - one subscription's error is set aside, the batch goes on
            outcome.failed[sub_id] = error
            del loaded[sub_id]
            continue
        if changed:
            to_save.append(sub)
        if request is not None:
            requests[sub_id] = request
    try:
        _save(services, to_save)
    except ConcurrentModificationError:
        log.info("a batch of %d subscriptions clashed with another writer: billing them one by one", len(loaded))
        _one_by_one(list(loaded), bill_one, outcome)
        return StartedBatch(services, actor, loaded, requests, None, outcome)
    answers = lane.submit_all((sub_id, partial(billing.call_gateway, services, sub_id, request)) for sub_id, request in requests.items())
    return StartedBatch(services, actor, loaded, requests, answers, outcome)


def _save(services: Services, subs: list[Subscription]) -> None:
    """Save in chunks of SAVE_CHUNK, a transaction each. A clash in a later chunk leaves the earlier ones saved: the
    one-by-one path that follows reloads each subscription and finds those attempts awaiting their answer."""
    for start in range(0, len(subs), SAVE_CHUNK):
        services.events.store(*subs[start:start + SAVE_CHUNK])


def _record_answers(services: Services, loaded: dict[str, Subscription], requests: dict[str, ChargeRequest],
                    answers: dict[str, ChargeResult | BoletoResult | BaseException], actor: Actor, outcome: BatchOutcome) -> None:
    """Every answer on its subscription, saved at once; one by one (reloading) when that save clashes."""
    now = services.clock.now()
    answered: list[tuple[str, ChargeResult | BoletoResult]] = []
    for sub_id, answer in answers.items():
        if isinstance(answer, BaseException):
            if isinstance(answer, GatewayOutcomeUnknown):
                outcome.in_flight += 1
            outcome.failed[sub_id] = answer
            continue
        billing.apply_result(loaded[sub_id], requests[sub_id], answer, now, actor)
        answered.append((sub_id, answer))
    try:
        _save(services, [loaded[sub_id] for sub_id, _ in answered])
    except ConcurrentModificationError:
        for sub_id, answer in answered:
            try:
                loaded[sub_id] = billing.record_result(services, sub_id, requests[sub_id], answer, actor)
            except Exception as error:  # noqa: BLE001 - as above
                outcome.failed[sub_id] = error
    outcome.charges += len(answered)


def _one_by_one(sub_ids: list[str], bill_one: Callable[[str], Subscription], outcome: BatchOutcome) -> None:
    for sub_id in sub_ids:
        try:
            bill_one(sub_id)
        except Exception as error:  # noqa: BLE001 - as above
            outcome.failed[sub_id] = error
        else:
            outcome.billed.append(sub_id)
