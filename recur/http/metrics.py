"""`GET /metrics`: Prometheus text format.

Two kinds of numbers:
- per-request counters and latency histograms, recorded by each process as it serves. Gunicorn runs several
  worker processes and a scrape reaches only one of them, so with `PROMETHEUS_MULTIPROC_DIR` set (the
  supervisor sets it) prometheus-client keeps the values in files there and every scrape sums all workers.
  Without it (tests, one process) the app's own registry serves them.
- business gauges (subscriptions by status, projection lag, event-store head, unresolved dead letters per
  projection, scheduler failures, e-mails by kind and status, webhook deliveries by status) are read from PostgreSQL at
  scrape time by a custom collector: they are facts of the shared database, not of one worker, so nothing is stored per
  process. One query plus `lag()` (two more when the read models are caught up) plus one each for dead letters and
  scheduler failures, two for e-mail, four for webhooks.

Labels carry the URL rule (`/v1/subscriptions/<subscription_id>`), never the raw path: ids in labels would
make one time series per subscription.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from recur.commands.scheduler_failures import count as scheduler_failures
from recur.consumers.dead_letters import RELAY, unresolved_counts
from recur.db import Database
from recur.http.context import EXTENSION
from recur.http.representations.kit import STATUSES
from recur.http.routes import route
from recur.notifications.outbox import KINDS as EMAIL_KINDS
from recur.notifications.outbox import STATUSES as EMAIL_STATUSES
from recur.notifications.outbox import status as outbox_status
from recur.projections.lag import lag
from recur.projections.queries.operations import store_figures
from recur.webhooks.deliveries import STATUSES as DELIVERY_STATUSES
from recur.webhooks.deliveries import status as deliveries_status

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
METRICS_KEY = "recur.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"  # 404s and 405s for paths no rule matched: one series, whatever was asked
# Up to 30 s: the sandbox clock advance and billing runs legitimately take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class DatabaseCollector(Collector):
    """Gauges read from PostgreSQL on every scrape, so they are right whichever worker answers."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> list[Metric]:
        """Nothing to declare up front: registering must not query the database (the registry would call collect)."""
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("recur_metrics_database_up", "1 if the database answered this scrape's queries, else 0")
        try:
            families = list(self._read())
        except Exception as error:  # noqa: BLE001 - a scrape must still answer (with up=0) while the database is down
            log.warning("metrics: database unavailable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[Metric]:
        figures = store_figures(self.db)
        head, by_status = figures.head, figures.subscriptions_by_status
        subscriptions = GaugeMetricFamily("recur_subscriptions", "Subscriptions by status, from the read model", labels=["status"])
        for status in sorted({*STATUSES, *by_status}):
            subscriptions.add_metric([status], by_status.get(status, 0))
        yield subscriptions
        store = GaugeMetricFamily("recur_event_store_head", "The highest notification id in the event store")
        store.add_metric([], head)
        yield store
        events_behind = GaugeMetricFamily(
            "recur_projection_events_behind", "Events the projection has not applied yet (relay and projection together)",
            labels=["projection"])
        seconds_behind = GaugeMetricFamily(
            "recur_projection_seconds_behind", "Seconds since a lagging projection last applied an event (0 when caught up)",
            labels=["projection"])
        relay_behind = GaugeMetricFamily("recur_relay_events_behind", "Events stored but not yet published to the broker")
        report = lag(self.db)
        for name, figures in sorted(report.items()):
            events_behind.add_metric([name], figures.events_behind)
            seconds_behind.add_metric([name], figures.seconds_behind)
        relay_behind.add_metric([], next(iter(report.values())).relay_behind if report else 0)
        yield events_behind
        yield seconds_behind
        yield relay_behind
        dead = GaugeMetricFamily(
            "recur_dead_letters", "Unresolved dead letters: events a projection (or the relay) could not handle, and the ones "
            "held behind them (`recur projections retry-dead` after a fix)", labels=["projection"])
        counts = unresolved_counts(self.db)
        for name in sorted({*report, RELAY, *counts}):
            dead.add_metric([name], counts.get(name, 0))
        yield dead
        failures = GaugeMetricFamily(
            "recur_scheduler_failures",
            "Subscriptions (and report schedules) whose due work raised an unexpected error, waiting out a backoff")
        failures.add_metric([], scheduler_failures(self.db))
        yield failures
        yield from self._email()
        yield from self._webhooks()

    def _email(self) -> Iterator[Metric]:
        outbox = outbox_status(self.db, failures=0)
        emails = GaugeMetricFamily(
            "recur_emails", "E-mails in the outbox by kind and status: pending (waiting for the SMTP server, retried when it "
            "refused for now), sent, failed (refused for good: `recur notifications status` says why)", labels=["kind", "status"])
        for kind in EMAIL_KINDS:
            for state in EMAIL_STATUSES:
                emails.add_metric([kind, state], outbox.counts.get((kind, state), 0))
        yield emails
        oldest = GaugeMetricFamily("recur_email_oldest_pending_seconds", "Age of the oldest e-mail not yet sent (0 when none waits)")
        oldest.add_metric([], outbox.oldest_pending_seconds)
        yield oldest

    def _webhooks(self) -> Iterator[Metric]:
        figures = deliveries_status(self.db, failures=0)
        counts = GaugeMetricFamily(
            "recur_webhook_deliveries", "Webhook deliveries by status: pending (still to be tried, on the retry schedule), "
            "succeeded (answered 2xx), failed (every attempt failed, or its endpoint was disabled or deleted)", labels=["status"])
        for state in DELIVERY_STATUSES:
            counts.add_metric([state], figures.counts.get(state, 0))
        yield counts
        oldest = GaugeMetricFamily("recur_webhook_oldest_pending_seconds",
                                   "Age of the oldest webhook delivery not yet delivered nor failed for good (0 when none)")
        oldest.add_metric([], figures.oldest_pending_seconds)
        yield oldest


class HttpMetrics:
    """One app's request metrics and the registry that serves them when there is a single process."""

    def __init__(self, db: Database) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recur_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "recur_http_request_seconds", "Time to serve an HTTP request", ["method", "route"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.database = DatabaseCollector(db)
        self.registry.register(self.database)

    def scrape_registry(self) -> CollectorRegistry:
        """With several workers, a fresh registry that sums every worker's files; otherwise this process's own."""
        if self.multiprocess_dir is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self.database)
        return registry

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def register_metrics(app: Flask) -> None:
    """Time every request. Register before any before_request hook that may answer early (idempotency replays),
    since a hook that returns a response stops the later ones: the replay is then still counted and timed."""
    metrics = HttpMetrics(app.extensions[EXTENSION].db)
    app.extensions[METRICS_KEY] = metrics

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            metrics.observe(request.method, route, response.status_code, time.perf_counter() - started)
        return response


def current_metrics() -> Any:
    return current_app.extensions[METRICS_KEY]


@route(bp.get, "/metrics", "Operations", "Prometheus metrics", media=("text/plain",),
       description="Request counts and latencies per route, subscriptions by status, projection lag and the event-store head.")
def metrics() -> Response:
    body = generate_latest(current_metrics().scrape_registry())
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
