"""The billing scheduler: finds due work in the billing-schedule read model and bills it, and reports the periods of
report schedules that ended (recur.scheduled_reports): both are due work on the one clock. So are webhook delivery
attempts, which the webhooks worker sends as they fall due; in the sandbox the clock advance runs them too, step by
step, so that a retry happens at its own instant on the simulated clock (`advance_clock`).

It reads a read model and issues commands, so it sits above both, beside the workers that run it (the API's
billing run and clock advance, `recur bill` and the scheduler loop of `recur up`).

A pass bills in batches (recur.commands.billing_batch): claim up to BATCH due subscriptions with one statement
(recur.billing_claims: several schedulers, on one host or many, share the work without overlap), record the batch's
attempts in event-store saves of 100, call the gateway for all of them concurrently (a bounded number in flight), record
the answers the same way. Two batches overlap: the next one is claimed, loaded, decided and its attempts stored while the
gateway answers the calls of the one before, whose answers are recorded after that. The aggregate guard plus gateway
idempotency keep even a double visit harmless.

A subscription whose billing raises is recorded and set aside for a backoff (scheduler_failures),
so one broken subscription neither stops the others nor is retried every second forever. A payment
gateway that does not answer is one such case, and an expected one: a charge whose outcome is unknown
stays in flight (nothing is recorded) and is settled by the first pass after the backoff that gets an
answer, with the same idempotency key.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg2

from recur import billing_claims
from recur.commands import scheduler_failures
from recur.commands.billing import bill_subscription
from recur.commands.billing_batch import BatchOutcome, StartedBatch, start_batch
from recur.commands.gateway import GatewayUnavailableError
from recur.commands.gateway_calls import lane_for
from recur.commands.services import Services
from recur.domain.actor import system_actor
from recur.projections.lag import wait_until_caught_up
from recur.scheduled_reports import next_report_due, run_due_reports
from recur.webhook_deliverer import Deliverer
from recur.webhooks.deliveries import next_due_at as next_delivery_due

log = logging.getLogger(__name__)
# Subscriptions claimed and decided together: one claim, a load, saves of 100 and one pool of gateway calls each.
BATCH = 500


@dataclass
class RunReport:
    """What one pass did. `examined` and `billed` count subscriptions, `reports` the report periods sent; `skipped_locked`
    and `errors` count both (held by another scheduler; set aside for a backoff). `charges` counts the gateway's answers
    recorded, `in_flight` the attempts left awaiting one (the gateway did not answer: settled by a later pass)."""

    examined: int = 0
    billed: int = 0
    reports: int = 0
    skipped_locked: int = 0
    errors: int = 0
    charges: int = 0
    in_flight: int = 0


def run_due(services: Services, now: datetime | None = None, limit: int = 100_000, batch: int = BATCH) -> RunReport:
    """Report every period ended by `now` (default: the clock's now), then bill every subscription due at `now`, up to
    `limit` of them, in batches.

    Reports first: what is billed at `now` belongs to the period starting at `now`, and the read models have caught up
    to `now` before anything new is billed (a clock advance waits for them before each step)."""
    now = now or services.clock.now()
    reports = run_due_reports(services, now)
    report = RunReport(reports=reports.reported, skipped_locked=reports.skipped_locked, errors=reports.errors)
    owner = billing_claims.new_owner()
    lane = lane_for(services.gateway, services.settings.gateway_concurrency)
    actor = system_actor()
    cursor = billing_claims.ClaimCursor()
    under_way: tuple[list[str], StartedBatch] | None = None
    try:
        while True:
            try:
                room = limit - report.examined - (len(under_way[0]) if under_way else 0)
                claimed = billing_claims.claim_due(services.db, owner, now, min(batch, room), cursor) if room > 0 else []
                started = start_batch(services, claimed, actor, lane) if claimed else None
            finally:
                # The previous batch's calls were answered while this one was loaded and decided: record them now (also
                # when starting this one failed, so that its attempts do not wait for the next pass).
                if under_way is not None:
                    _finish(services, owner, report, *under_way)
            if started is None:
                break
            under_way = (claimed, started)
        report.skipped_locked += billing_claims.held_elsewhere(services.db, owner, now)
    finally:
        try:
            billing_claims.finish_pass(services.db, owner)
        except psycopg2.Error:
            log.warning("could not remove the claims of pass %s: they expire in %d s", owner, billing_claims.LEASE_S, exc_info=True)
    return report


def _finish(services: Services, owner: str, report: RunReport, claimed: list[str], started: StartedBatch) -> None:
    _tally(services, report, claimed, started.finish())
    billing_claims.batch_done(services.db, owner, claimed)


def _tally(services: Services, report: RunReport, claimed: list[str], outcome: BatchOutcome) -> None:
    report.examined += len(claimed)
    report.billed += len(outcome.billed)
    report.charges += outcome.charges
    report.in_flight += outcome.in_flight
    report.errors += len(outcome.failed)
    for sub_id, error in outcome.failed.items():
        _log_failure(sub_id, error)
        _set_aside(services, sub_id, error)
    scheduler_failures.clear(services.db, outcome.billed)


def bill_one(services: Services, subscription_id: str) -> bool:
    """Bill one due subscription on its own, as a pass does: False when billing it failed, which is then recorded and
    the subscription set aside for a backoff."""
    try:
        bill_subscription(services, subscription_id, system_actor())
        return True
    except Exception as error:  # noqa: BLE001 - logged and set aside
        _log_failure(subscription_id, error)
        _set_aside(services, subscription_id, error)
    return False


def _log_failure(subscription_id: str, error: BaseException) -> None:
    """A payment gateway that gave no answer is an expected failure, logged without a traceback: a charge in flight
    stays in flight, to be settled with the same key after the backoff."""
    if isinstance(error, GatewayUnavailableError):
        log.warning("billing subscription %s: %s; a charge in flight stays in flight, and the subscription is set aside for a "
                    "backoff, then retried with the same key", subscription_id, error)
    else:
        log.error("billing subscription %s failed; it is set aside for a backoff, then retried", subscription_id,
                  exc_info=(type(error), error, error.__traceback__))


def _set_aside(services: Services, subscription_id: str, error: BaseException) -> None:
    try:
        scheduler_failures.record_failure(services.db, subscription_id, error)
    except psycopg2.Error:
        log.warning("could not record the failure of %s (the database is unavailable?): it stays due", subscription_id, exc_info=True)


def next_due(services: Services, until: datetime) -> datetime | None:
    """The earliest instant at or before `until` when something falls due: a charge, retry or expiry, a report period's end,
    or a webhook delivery attempt (one no deliverer has under way)."""
    row = services.db.fetchone(
        f"SELECT min(b.due_at) FROM rm_billing_schedule b WHERE b.due_at <= %s AND {scheduler_failures.NOT_BACKING_OFF}", (until,)
    )
    billing = row[0] if row else None
    candidates = (billing, next_report_due(services, until), next_delivery_due(services.db, until))
    return min((due for due in candidates if due is not None), default=None)


def advance_clock(services: Services, target: datetime, timeout: float = 120.0) -> int:
    """Move the sandbox clock to `target`, running everything due on the way in time order.

    Each step: wait for the read models (and the consumer groups that decide e-mails and webhooks), jump to the earliest due
    instant, run what is due then (the reports of the periods that ended, the webhook attempts, then billing). Returns the
    number of steps taken. The clock never moves backwards.

    A step waits for its webhook attempts' answers (up to 15 s for a receiver that hangs), since a failed one is retried at
    an instant of its own that may lie before the next step; attempts the webhooks worker already has under way are left
    to it.
    """
    from recur.commands.clock import SandboxClock

    assert isinstance(services.clock, SandboxClock), "the clock can only be advanced in sandbox mode"
    deadline = time.monotonic() + timeout
    steps = 0
    seen: set[datetime] = set()
    deliverer = Deliverer(services, workers=8)
    try:
        while True:
            wait_until_caught_up(services.db, timeout=max(1.0, deadline - time.monotonic()))
            due = next_due(services, target)
            if due is None:
                break
            moment = max(due, services.clock.now())
            services.clock.set(moment)
            delivered = deliverer.deliver_due_at(moment)
            report = run_due(services, moment)
            steps += 1
            if report.skipped_locked:
                time.sleep(0.05)  # another scheduler is billing some of it: wait for it, in time order
            elif moment in seen and report.billed == 0 and report.reports == 0 and delivered.total == 0:
                break  # nothing moved: do not spin
            seen.add(moment)
            if time.monotonic() > deadline:
                raise TimeoutError("the clock advance took too long; read models may be lagging")
    finally:
        deliverer.close()
    services.clock.set(target)
    wait_until_caught_up(services.db, timeout=max(1.0, deadline - time.monotonic()))
    return steps
