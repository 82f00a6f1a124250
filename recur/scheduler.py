"""The billing scheduler: finds due work in the billing-schedule read model and bills it, and reports the periods of
report schedules that ended (recur.scheduled_reports): both are due work on the one clock. So are webhook delivery
attempts, which the webhooks worker sends as they fall due; in the sandbox the clock advance runs them too, step by
step, so that a retry happens at its own instant on the simulated clock (`advance_clock`).

It reads a read model and issues commands, so it sits above both, beside the workers that run it (the API's
billing run and clock advance, `recur bill` and the scheduler loop of `recur up`).

Several schedulers may run at once (API workers, `recur bill`, the loop in `recur up`): a
session advisory lock per subscription keeps two of them off the same subscription at the same
moment, and the aggregate guard plus gateway idempotency make even a double visit harmless.

A subscription whose billing raises is recorded and set aside for a backoff (scheduler_failures),
so one broken subscription neither stops the others nor is retried every second forever. A payment
gateway that does not answer is one such case, and an expected one: a charge whose outcome is unknown
stays in flight (nothing is recorded) and is settled by the first pass after the backoff that gets an
answer, with the same idempotency key.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from datetime import datetime

import psycopg2

from recur.commands import scheduler_failures
from recur.commands.billing import bill_subscription
from recur.commands.gateway import GatewayUnavailableError
from recur.commands.services import Services
from recur.domain.actor import system_actor
from recur.projections.lag import wait_until_caught_up
from recur.scheduled_reports import next_report_due, run_due_reports
from recur.webhook_deliverer import Deliverer
from recur.webhooks.deliveries import next_due_at as next_delivery_due

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What one pass did. `examined` and `billed` count subscriptions, `reports` the report periods sent; `skipped_locked`
    and `errors` count both (left to another scheduler; set aside for a backoff)."""

    examined: int = 0
    billed: int = 0
    reports: int = 0
    skipped_locked: int = 0
    errors: int = 0


def subscription_lock_key(subscription_id: str) -> int:
    """The advisory lock a scheduler holds while it bills one subscription."""
    return zlib.crc32(subscription_id.encode()) - 2**31


def run_due(services: Services, now: datetime | None = None, limit: int = 1000) -> RunReport:
    """Report every period ended by `now` (default: the clock's now), then bill every subscription due at `now`.

    Reports first: what is billed at `now` belongs to the period starting at `now`, and the read models have caught up
    to `now` before anything new is billed (a clock advance waits for them before each step)."""
    now = now or services.clock.now()
    reports = run_due_reports(services, now)
    report = RunReport(reports=reports.reported, skipped_locked=reports.skipped_locked, errors=reports.errors)
    rows = services.db.fetchall(
        "SELECT b.subscription_id::text, EXISTS (SELECT 1 FROM scheduler_failures f WHERE f.subscription_id = b.subscription_id) "
        f"FROM rm_billing_schedule b WHERE b.due_at <= %s AND {scheduler_failures.NOT_BACKING_OFF} ORDER BY b.due_at LIMIT %s",
        (now, limit),
    )
    recovered: list[str] = []
    # Locks live on a connection of their own: billing takes pooled connections meanwhile.
    conn = psycopg2.connect(services.db.url)
    conn.autocommit = True
    try:
        for subscription_id, failed_before in rows:
            report.examined += 1
            key = subscription_lock_key(subscription_id)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                locked = cur.fetchone()[0]  # type: ignore[index]
            if not locked:
                report.skipped_locked += 1
                continue
            try:
                if bill_one(services, subscription_id):
                    report.billed += 1
                    if failed_before:
                        recovered.append(subscription_id)
                else:
                    report.errors += 1
            finally:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()
    scheduler_failures.clear(services.db, recovered)
    return report


def bill_one(services: Services, subscription_id: str) -> bool:
    """Bill one due subscription as a pass does (the caller holds its lock): False when billing it failed, which is then
    recorded and the subscription set aside for a backoff. A payment gateway that gave no answer is an expected failure,
    logged without a traceback: a charge in flight stays in flight, to be settled with the same key after the backoff."""
    try:
        bill_subscription(services, subscription_id, system_actor())
        return True
    except GatewayUnavailableError as error:
        log.warning("billing subscription %s: %s; a charge in flight stays in flight, and the subscription is set aside for a "
                    "backoff, then retried with the same key", subscription_id, error)
        _set_aside(services, subscription_id, error)
    except Exception as error:
        log.exception("billing subscription %s failed; it is set aside for a backoff, then retried", subscription_id)
        _set_aside(services, subscription_id, error)
    return False


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
