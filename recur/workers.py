"""The long-running worker loops `recur up` starts as separate processes: relay, consumer, notifier, webhooks, scheduler."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from recur.bootstrap import build_services
from recur.commands.audit_checkpoints import record_checkpoint
from recur.commands.idempotency import IdempotencyStore
from recur.consumers.audit_topic import AuditTopic
from recur.consumers.relay import Relay, start_watchdog
from recur.consumers.runner import ConsumerRunner
from recur.consumers.topic_admin import TopicMismatchError
from recur.db import Database
from recur.projections.registry import PROJECTIONS
from recur.readiness import mark_ready
from recur.scheduler import run_due
from recur.settings import Settings

if TYPE_CHECKING:
    from recur.notifications.sender import OutboxSender

log = logging.getLogger(__name__)


class StopFlag:
    """Set by SIGTERM/SIGINT so loops finish their current batch and exit cleanly."""

    def __init__(self) -> None:
        self.stopped = False
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True

    def __call__(self) -> bool:
        return self.stopped


def _require(settings: Settings) -> tuple[str, str]:
    if not settings.database_url or not settings.kafka_bootstrap_servers:
        raise SystemExit("RECUR_DATABASE_URL and RECUR_KAFKA_BOOTSTRAP_SERVERS must be set (recur up sets them)")
    return settings.database_url, settings.kafka_bootstrap_servers


def run_relay(settings: Settings) -> None:
    database_url, bootstrap = _require(settings)
    stop = StopFlag()
    from recur.bootstrap import open_events
    from recur.sealing import MasterKeyError

    try:  # the relay publishes subscribers' personal data, decrypted with their keys: it needs the master key
        events = open_events(settings, database_url, 2)
    except MasterKeyError as error:
        log.critical("relay: %s", error)
        raise SystemExit(3) from None
    relay = Relay(events, Database(database_url, 2), bootstrap, settings.kafka_embedded)
    start_watchdog(relay)
    log.info("relay publishing to %s", bootstrap)
    try:
        relay.run(stop, database_url, on_ready=lambda: mark_ready(settings, "relay"))
    except TopicMismatchError as error:
        log.critical("relay: %s", error)
        raise SystemExit(3) from None


def run_consumer(settings: Settings) -> None:
    database_url, bootstrap = _require(settings)
    stop = StopFlag()
    runner = ConsumerRunner(Database(database_url, 2), bootstrap, list(PROJECTIONS.values()))
    runner.wait_for_assignment(stop)
    log.info("consumer feeding projections %s", ", ".join(PROJECTIONS))
    mark_ready(settings, "consumer")
    runner.run(stop)


def run_notifier(settings: Settings) -> None:
    """The notifier's consumer group (events -> e-mail outbox) and, beside it, the sender (outbox -> SMTP)."""
    database_url, bootstrap = _require(settings)
    stop = StopFlag()
    from recur.projections.notifier import GROUP_ID, notifier

    runner = ConsumerRunner(Database(database_url, 2), bootstrap, [notifier], group_id=GROUP_ID)
    sender = _start_sender(settings, database_url, stop)
    runner.wait_for_assignment(stop)
    log.info("notifier deciding e-mails from %s", ", ".join(notifier.topics))
    mark_ready(settings, "notifier")
    runner.run(stop)
    if sender is not None:
        sender.join(timeout=35)


def run_webhooks(settings: Settings) -> None:
    """The webhooks consumer group (events -> deliveries) and, beside it, the deliverer (deliveries -> signed POSTs).
    It signs with secrets sealed under the master key: without that key, or with another one, it stops at start."""
    database_url, bootstrap = _require(settings)
    stop = StopFlag()
    from recur.projections.webhooks import GROUP_ID, webhooks
    from recur.sealing import MasterKeyError, check_master_key
    from recur.webhook_deliverer import Deliverer, deliver_until_stopped

    services = build_services(settings, database_url, pool_size=6)
    try:
        check_master_key(services.db, services.require_master_key())
    except MasterKeyError as error:
        log.critical("webhooks: %s", error)
        raise SystemExit(3) from None
    runner = ConsumerRunner(Database(database_url, 2), bootstrap, [webhooks], group_id=GROUP_ID)
    deliverer = Deliverer(services)
    thread = threading.Thread(target=deliver_until_stopped, args=(deliverer, stop), name="deliverer", daemon=True)
    thread.start()
    runner.wait_for_assignment(stop)
    log.info("webhooks deciding deliveries from %s", ", ".join(webhooks.topics))
    mark_ready(settings, "webhooks")
    runner.run(stop)
    thread.join(timeout=35)
    services.close()


def _start_sender(settings: Settings, database_url: str, stop: StopFlag) -> threading.Thread | None:
    if not settings.smtp_url:
        log.warning("RECUR_SMTP_URL is not set: e-mails are decided and kept in the outbox, but not sent")
        return None
    from recur.notifications.sender import OutboxSender
    from recur.notifications.smtp import SmtpTransport

    sender = OutboxSender(Database(database_url, 1), SmtpTransport(settings.smtp_url), settings.mail_from)
    thread = threading.Thread(target=send_until_stopped, args=(sender, stop), name="sender", daemon=True)
    thread.start()
    return thread


def send_until_stopped(sender: OutboxSender, stop: Callable[[], bool], interval: float = 0.5) -> None:
    """Send what the outbox holds every `interval` seconds."""
    log.info("e-mail sender running every %.1fs", interval)

    def one_pass() -> None:
        report = sender.send_due()
        if report.handled:
            log.info("e-mail: %d sent, %d refused for now, %d refused for good", report.sent, report.deferred, report.failed)

    repeat_until_stopped(one_pass, stop, interval, "e-mail sender pass")
    sender.transport.close()


def repeat_until_stopped(one_pass: Callable[[], None], stop: Callable[[], bool], interval: float, what: str,
                         max_pause: float = 30.0) -> None:
    """Run `one_pass` every `interval` seconds until told to stop. A pass that fails (the database unavailable, say)
    is tried again after a pause that doubles up to `max_pause`, not every second."""
    pause = interval
    while not stop():
        try:
            one_pass()
            pause = interval
        except Exception:
            pause = min(pause * 2, max_pause)
            log.exception("%s failed; retrying in %.0fs", what, pause)
        deadline = time.monotonic() + pause
        while not stop() and time.monotonic() < deadline:
            time.sleep(0.1)


class Housekeeping:
    """Deletes idempotency keys past their day, every few minutes (they are ignored meanwhile)."""

    def __init__(self, keys: IdempotencyStore, every: float = 300.0) -> None:
        self.keys, self.every, self.next_at = keys, every, 0.0

    def run_when_due(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.every
        forgotten = self.keys.forget_expired()
        if forgotten:
            log.info("forgot %d idempotency keys older than a day", forgotten)


class Checkpointing:
    """Records the event log's chain head as a checkpoint and publishes it to recur.audit.v1 every `every` seconds (an
    hour: a rewrite of the history before a published checkpoint is provable from then on), and when the scheduler
    stops. The first pass after a start records one at once; a head that did not move is not recorded again, and
    checkpoints the broker did not take are published on a later pass."""

    def __init__(self, db: Database, topic: AuditTopic, every: float = 3600.0) -> None:
        self.db, self.topic, self.every, self.next_at = db, topic, every, 0.0

    def run_when_due(self) -> None:
        if time.monotonic() < self.next_at:
            if self.topic.behind:  # what the broker refused goes out once it is back (publish_pending backs off itself)
                self.topic.publish_pending()
            return
        self.next_at = time.monotonic() + self.every
        self.record()

    def record(self) -> None:
        checkpoint = record_checkpoint(self.db)
        if checkpoint is not None:
            log.info("audit checkpoint: event %d, chain hash %s", checkpoint.notification_id, checkpoint.hash)
        self.topic.publish_pending()


def run_scheduler(settings: Settings, interval: float = 1.0) -> None:
    """Bill and report what is due, every `interval` seconds. In the sandbox the clock stands still, so this
    only runs what a clock advance or a card change made due. A subscription that fails is set aside by run_due
    itself; a whole pass that fails is retried after a growing pause (repeat_until_stopped)."""
    database_url, bootstrap = _require(settings)
    stop = StopFlag()
    services = build_services(settings, database_url, pool_size=2)
    from recur.sealing import MasterKeyError, check_master_key

    try:  # billing replays subscriptions, whose personal data only the master key opens
        check_master_key(services.db, services.require_master_key())
    except MasterKeyError as error:
        log.critical("scheduler: %s", error)
        raise SystemExit(3) from None
    checkpointing = Checkpointing(services.db, AuditTopic(services.db, bootstrap))
    log.info("billing scheduler running every %.1fs", interval)
    mark_ready(settings, "scheduler")
    housekeeping = Housekeeping(IdempotencyStore(services.db, services.events.recorder.events_table_name))

    def one_pass() -> None:
        housekeeping.run_when_due()
        checkpointing.run_when_due()
        report = run_due(services)
        if report.examined or report.reports or report.errors:
            log.info("billed %d of %d due subscriptions, reported %d periods (%d failed and set aside)", report.billed,
                     report.examined, report.reports, report.errors)

    repeat_until_stopped(one_pass, stop, interval, "scheduler pass")
    try:
        checkpointing.record()  # the head as the scheduler leaves it
    except Exception:
        log.exception("the last audit checkpoint could not be recorded; the next start records one")
    checkpointing.topic.close()
    services.close()
