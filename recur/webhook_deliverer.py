"""The deliverer: sends the deliveries the recur-webhooks consumer group decided, signed, with bounded concurrency, and
records each attempt.

It runs in `recur worker webhooks` (a pool of threads, continuously) and, in the sandbox, inside the clock advance,
which runs the attempts due at each step in time order with charges and reports (`deliver_due_at`). It reads the
endpoint from the event store before every attempt (the read models may be behind): an endpoint disabled or deleted
receives nothing more. It renders the body on the first attempt (with the API's own representation, which is why it
sits above the HTTP layer, beside the scheduler) and keeps it, so retries send the same bytes with the same webhook-id.

Bounded concurrency: a pool of `workers` threads per process, and at most `PER_ENDPOINT` attempts under way per
endpoint across every deliverer (recur.webhooks.deliveries), so a receiver that hangs for its 15 s holds a few threads
while every other endpoint's deliveries go on.

After each failed attempt the endpoint's failing streak is checked: failing for 5 days (on the billing clock, counted
from its last success or from when it was last enabled), it is disabled (an event), and the notifier e-mails its
producer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from recur.commands.event_store import NotFoundError
from recur.commands.idempotency import this_process
from recur.commands.services import Services
from recur.commands.webhooks import disable_failing_webhook_endpoint, signing_secrets
from recur.domain.actor import system_actor
from recur.domain.webhooks import FAILING_FOR, WebhookEndpoint
from recur.webhook_bodies import render_body
from recur.webhooks import deliveries
from recur.webhooks.address_policy import AddressRefusedError, Resolver, resolve_target, system_resolver
from recur.webhooks.deliveries import Claimed
from recur.webhooks.signing import delivery_headers
from recur.webhooks.transport import TIMEOUT_SECONDS, DeliveryFailedError, post

log = logging.getLogger(__name__)
DEAD_CLAIMS_EVERY = 5.0  # seconds between looks for claims of deliverers that died
FORGET_EVERY = 600.0  # seconds between prunings of the consumer group's memory of recent events
HOLD_BACK_SECONDS = 30.0  # after a fault of ours, before the delivery is tried again


@dataclass
class Attempted:
    """What one pass did: attempts that succeeded, failed (to be retried or for good), and deliveries given up on."""

    succeeded: int = 0
    failed: int = 0
    given_up: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.given_up

    def add(self, other: Attempted) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.given_up += other.given_up


class Deliverer:
    """Attempts due deliveries on a pool of `workers` threads, as `recur worker webhooks` (continuously) and the sandbox
    clock advance (step by step) both need; `resolve` is the DNS lookup the address policy judges (the system's)."""

    def __init__(self, services: Services, workers: int = 16, per_endpoint: int = deliveries.PER_ENDPOINT,
                 timeout: float = TIMEOUT_SECONDS, lease: timedelta = deliveries.LEASE, resolve: Resolver = system_resolver) -> None:
        self.services = services
        self.workers = workers
        self.per_endpoint = per_endpoint
        self.timeout = timeout
        self.lease = lease
        self.resolve = resolve
        self.owner = this_process()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self.in_flight: set[Future[Attempted]] = set()
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ passes
    def claim_and_start(self, now: datetime | None = None) -> int:
        """Claim as many due deliveries as there are free threads and start them; how many were started."""
        with self.lock:
            self.in_flight = {future for future in self.in_flight if not future.done()}
            free = self.workers - len(self.in_flight)
        moment = now or self.services.clock.now()
        claimed = deliveries.claim_due(self.services.db, moment, free, self.owner, self.per_endpoint, self.lease)
        for delivery in claimed:
            future = self.pool.submit(self.attempt, delivery, moment)
            with self.lock:
                self.in_flight.add(future)
        return len(claimed)

    def deliver_due_at(self, moment: datetime) -> Attempted:
        """Attempt everything due at `moment` (billing clock) and wait for the outcomes: a step of the sandbox clock advance.
        Deliveries another deliverer has under way are left to it."""
        done = Attempted()
        while True:
            claimed = deliveries.claim_due(self.services.db, moment, self.workers, self.owner, self.per_endpoint, self.lease)
            if not claimed:
                return done
            futures = [self.pool.submit(self.attempt, delivery, moment) for delivery in claimed]
            wait(futures)
            for future in futures:
                done.add(future.result())

    def close(self, wait_for_attempts: bool = True) -> None:
        self.pool.shutdown(wait=wait_for_attempts, cancel_futures=True)

    # ------------------------------------------------------------------ one attempt
    def attempt(self, claimed: Claimed, attempt_at: datetime) -> Attempted:
        try:
            return self._attempt(claimed, attempt_at)
        except Exception:
            # A fault of ours (the database, the event store, a bug): tried again in a while, its receiver's retries
            # untouched. Database trouble that also stops the hold-back leaves the lease to run out.
            log.exception("webhook delivery %d could not be attempted; trying it again in %.0fs", claimed.id, HOLD_BACK_SECONDS)
            try:
                deliveries.hold_back(self.services.db, claimed, self.owner, HOLD_BACK_SECONDS)
            except Exception:  # noqa: BLE001 - the lease runs out instead
                log.warning("could not hold back webhook delivery %d; it is due again when its lease ends", claimed.id)
            return Attempted()

    def _attempt(self, claimed: Claimed, attempt_at: datetime) -> Attempted:
        db = self.services.db
        endpoint = self._endpoint(claimed.endpoint_id)
        if endpoint is None or endpoint.deleted or not endpoint.enabled:
            reason = "the endpoint was deleted" if endpoint is None or endpoint.deleted else "the endpoint is disabled"
            deliveries.give_up(db, claimed, self.owner, attempt_at, reason)
            return Attempted(given_up=1)
        try:
            target = resolve_target(endpoint.url, self.services.settings.sandbox, self.resolve)
        except AddressRefusedError as refused:
            return self._failed(claimed, attempt_at, None, f"not sent: the URL {refused}")
        body = claimed.body or deliveries.store_body(db, claimed, render_body(self.services, claimed.type, claimed.subscription_id,
                                                                              claimed.event_version))
        headers = delivery_headers(claimed.webhook_id, body, signing_secrets(self.services, endpoint, attempt_at))
        try:
            answer = post(target, headers, body, self.timeout)
        except DeliveryFailedError as error:
            return self._failed(claimed, attempt_at, None, str(error))
        if answer.succeeded:
            deliveries.record_success(db, claimed, self.owner, attempt_at, answer.status)
            return Attempted(succeeded=1)
        return self._failed(claimed, attempt_at, answer.status, f"answered {answer.status}")

    def _endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        """The endpoint as the event store has it now (a read model could still show it enabled after it was disabled)."""
        try:
            endpoint: WebhookEndpoint = self.services.events.load(endpoint_id, WebhookEndpoint)
        except NotFoundError:
            return None
        return endpoint

    def _failed(self, claimed: Claimed, attempt_at: datetime, response_status: int | None, error: str) -> Attempted:
        recorded = deliveries.record_failure(self.services.db, claimed, self.owner, attempt_at, response_status, error)
        log.info("webhook delivery %d (%s) to endpoint %s failed: %s; %s", claimed.id, claimed.type, claimed.endpoint_id, error,
                 f"next attempt at {recorded.next_attempt_at.isoformat()}" if recorded.next_attempt_at else "no more attempts")
        failing_long = recorded.failing_since is not None and attempt_at - recorded.failing_since >= FAILING_FOR
        if failing_long and disable_failing_webhook_endpoint(self.services, claimed.endpoint_id, recorded.failing_since, attempt_at,
                                                             system_actor()):
            log.warning("webhook endpoint %s disabled: its deliveries have failed since %s", claimed.endpoint_id,
                            recorded.failing_since.isoformat())
        return Attempted(failed=1)


def deliver_until_stopped(deliverer: Deliverer, stop: Callable[[], bool], interval: float = 0.5, max_pause: float = 30.0) -> None:
    """Claim and start what is due every `interval` seconds (at once again while there is more); a pass that fails (the
    database unavailable) is tried again after a pause that doubles up to `max_pause`."""
    log.info("webhook deliverer running with %d threads, at most %d attempts per endpoint at once", deliverer.workers,
             deliverer.per_endpoint)
    pause, next_dead_look, next_forget = interval, 0.0, time.monotonic() + FORGET_EVERY
    while not stop():
        try:
            if time.monotonic() >= next_dead_look:
                deliveries.release_claims_of_the_dead(deliverer.services.db)
                next_dead_look = time.monotonic() + DEAD_CLAIMS_EVERY
            if time.monotonic() >= next_forget:
                deliveries.forget_seen_events(deliverer.services.db)
                next_forget = time.monotonic() + FORGET_EVERY
            started = deliverer.claim_and_start()
            pause = 0.0 if started else interval
        except Exception:
            pause = min(max(pause, interval) * 2, max_pause)
            log.exception("webhook deliverer pass failed; retrying in %.0fs", pause)
        deadline = time.monotonic() + pause
        while not stop() and time.monotonic() < deadline:
            time.sleep(min(0.05, pause))
    deliverer.close()
