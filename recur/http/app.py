"""The Flask app factory: nothing is built at import time."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from recur.commands.services import Services
from recur.http import (
    catalog,
    dashboard_page,
    docs_page,
    gateway_events,
    metrics,
    openapi,
    operations,
    refunds,
    report_schedules,
    reports,
    sandbox,
    subscriptions,
    webhooks,
)
from recur.http.audit import bp as audit_routes
from recur.http.context import EXTENSION
from recur.http.erasures import bp as erasure_routes
from recur.http.errors import not_found, register_error_handlers
from recur.http.fields import unstorable
from recur.http.idempotency import register_idempotency
from recur.http.json_bodies import BoundedJSONProvider
from recur.http.limits import MAX_BODY_BYTES
from recur.http.request_deadline import register_request_deadline
from recur.http.request_ids import request_id_from
from recur.http.routes import register_replayed_headers

log = logging.getLogger("recur.http")


def create_app(services: Services) -> Flask:
    app = Flask("recur")
    app.json = BoundedJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # werkzeug answers 413 (as problem+json, see errors.py)
    app.extensions[EXTENSION] = services

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))

    @app.before_request
    def refuse_unstorable_paths() -> None:
        """A path with a NUL (%00) names no resource, and would fail in SQL (ids, idempotency scopes): 404 at once."""
        if unstorable(request.path):
            raise not_found()

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    register_request_deadline(app)  # first: authentication and idempotency wait on the database too
    # Before idempotency: its replays answer from a before_request hook, which skips the hooks registered after it.
    metrics.register_metrics(app)
    register_error_handlers(app)
    register_idempotency(app)
    register_replayed_headers(app)
    app.register_blueprint(operations.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)  # the document is built on first use, from every route registered by then
    app.register_blueprint(docs_page.bp)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(subscriptions.bp)
    app.register_blueprint(refunds.bp)
    app.register_blueprint(gateway_events.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(report_schedules.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(dashboard_page.bp)
    app.register_blueprint(audit_routes)
    app.register_blueprint(erasure_routes)
    if services.settings.sandbox:
        app.register_blueprint(sandbox.bp)
    return app
