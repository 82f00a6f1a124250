"""recur's workers as the integration tests run them: the relay, the projection consumer, the notifier and its sender,
the webhooks consumer group and its deliverer, each in a background thread of the test process until `stop` is set."""

from __future__ import annotations

import threading

from mail_server import TEST_RETRY_DELAYS

from recur.bootstrap import build_services
from recur.settings import Settings


def start_workers(settings: Settings, smtp_url: str, stop: threading.Event) -> list[threading.Thread]:
    from recur.bootstrap import open_events
    from recur.consumers.relay import Relay
    from recur.consumers.runner import ConsumerRunner
    from recur.db import Database
    from recur.notifications.sender import OutboxSender, RetryDelays
    from recur.notifications.smtp import SmtpTransport
    from recur.projections.notifier import GROUP_ID, notifier
    from recur.projections.registry import PROJECTIONS
    from recur.projections.webhooks import GROUP_ID as WEBHOOKS_GROUP
    from recur.projections.webhooks import webhooks
    from recur.webhook_deliverer import Deliverer, deliver_until_stopped
    from recur.workers import send_until_stopped

    database_url, bootstrap = settings.database_url, settings.kafka_bootstrap_servers
    assert database_url and bootstrap
    relay = Relay(open_events(settings, database_url, 2), Database(database_url, 2), bootstrap, broker_is_embedded=True)
    runner = ConsumerRunner(Database(database_url, 2), bootstrap, list(PROJECTIONS.values()))
    notifier_runner = ConsumerRunner(Database(database_url, 2), bootstrap, [notifier], group_id=GROUP_ID)
    sender = OutboxSender(Database(database_url, 1), SmtpTransport(smtp_url), Settings.mail_from, RetryDelays(**TEST_RETRY_DELAYS))
    webhooks_runner = ConsumerRunner(Database(database_url, 2), bootstrap, [webhooks], group_id=WEBHOOKS_GROUP)
    deliverer = Deliverer(build_services(settings, database_url, pool_size=4))
    threads = [
        threading.Thread(target=relay.run, args=(stop.is_set, database_url), daemon=True, name="relay"),
        threading.Thread(target=runner.run, args=(stop.is_set,), daemon=True, name="consumer"),
        threading.Thread(target=notifier_runner.run, args=(stop.is_set,), daemon=True, name="notifier"),
        threading.Thread(target=send_until_stopped, args=(sender, stop.is_set, 0.05), daemon=True, name="sender"),
        threading.Thread(target=webhooks_runner.run, args=(stop.is_set,), daemon=True, name="webhooks"),
        threading.Thread(target=deliver_until_stopped, args=(deliverer, stop.is_set, 0.1), daemon=True, name="deliverer"),
    ]
    for t in threads:
        t.start()
    return threads
