"""Every error is application/problem+json (RFC 9457) with a stable `type` and a `detail` that says
what to do. Domain errors map to 409/422; nothing a client sends can produce a 500."""

from __future__ import annotations

import logging
from typing import Any

import eventsourcing.persistence
import psycopg
import psycopg2
from flask import Flask, Response, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from recur.commands.event_store import ConcurrentModificationError, NotFoundError
from recur.commands.gateway import GatewayUnavailableError
from recur.commands.versions import StaleVersionError
from recur.deadlines import DatabaseDeadlineExceeded
from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.sealing import MasterKeyError

log = logging.getLogger(__name__)
TYPE_BASE = "https://recur.dev/problems/"


class ApiError(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail, self.errors = status, kind, title, detail, errors


def problem(status: int, kind: str, title: str, detail: str, errors: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def unauthorized(detail: str = "send Authorization: Bearer <admin token, producer api_key or subscriber_token>") -> ApiError:
    return ApiError(401, "unauthorized", "Missing or invalid credentials", detail)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not-found", "Not found", f"no such {what} (or it is not yours)")


def forbidden_action(detail: str) -> ApiError:
    """An action these credentials may never take; reported as 404 so no id is confirmed."""
    return ApiError(404, "not-found", "Not found", detail)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def on_api_error(error: ApiError) -> Response:
        response = problem(error.status, error.kind, error.title, error.detail, error.errors)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="recur"'  # RFC 9110: every 401 names its scheme
        return response

    @app.errorhandler(ValidationError)
    def on_validation_error(error: ValidationError) -> Response:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        fields = ", ".join(sorted(_flatten(messages)))
        return problem(422, "validation-error", "Invalid request", f"fix these fields: {fields}", messages)

    @app.errorhandler(RuleViolationError)
    def on_rule_violation(error: RuleViolationError) -> Response:
        field = error.field or "_schema"
        return problem(422, "rule-violation", "Invalid request", str(error), {field: [str(error)]})

    @app.errorhandler(ConcurrentModificationError)
    def on_conflict(error: ConcurrentModificationError) -> Response:
        return problem(409, "concurrent-modification", "Concurrent modification", str(error))

    @app.errorhandler(StaleVersionError)
    def on_stale_version(error: StaleVersionError) -> Response:
        response = problem(412, "precondition-failed", "Precondition failed",
                           f"If-Match names a version this resource has left ({error}): read it again, then decide again")
        response.set_etag(str(error.current))
        return response

    @app.errorhandler(InvalidStateError)
    def on_invalid_state(error: InvalidStateError) -> Response:
        return problem(409, "invalid-state", "Not allowed in the current state", str(error))

    @app.errorhandler(NotFoundError)
    def on_not_found(error: NotFoundError) -> Response:
        return problem(404, "not-found", "Not found", "no such resource (or it is not yours)")

    @app.errorhandler(MasterKeyError)
    def on_master_key_error(error: MasterKeyError) -> Response:
        log.error("master key: %s", error)
        return dependency_down("secrets (webhook signing secrets, subscribers' data keys) cannot be sealed or opened: the server's "
                               "master key is missing or wrong")

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status in (400, 415):
            return problem(400, "malformed-request", "Malformed request", "the body must be valid JSON (Content-Type: application/json)")
        return problem(status, (error.name or "error").lower().replace(" ", "-"), error.name or "Error", error.description or "")

    @app.errorhandler(GatewayUnavailableError)
    def on_gateway_unavailable(error: GatewayUnavailableError) -> Response:
        log.warning("payment gateway: %s", error)  # the adapter's words: they never quote a secret
        return dependency_down("the payment gateway did not answer: retry shortly")

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception) -> Response:
        if isinstance(error, DATABASE_UNAVAILABLE):
            log.error("database unavailable: %s: %s", error.__class__.__name__, error)
            return dependency_down("the database is unreachable or not answering; retry shortly")
        log.exception("unexpected error")
        return problem(500, "internal-error", "Internal error", "an unexpected error occurred; it was logged")


# What a database that is down, paused or overloaded raises, through each driver and the event store.
DATABASE_UNAVAILABLE = (
    DatabaseDeadlineExceeded,
    psycopg.OperationalError,
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
)
RETRY_AFTER_SECONDS = 2


def dependency_down(detail: str, title: str = "Service unavailable") -> Response:
    """503 with Retry-After: clients and load balancers back off instead of hammering."""
    response = problem(503, "dependency-down", title, detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _flatten(messages: dict[str, Any], prefix: str = "") -> list[str]:
    names: list[str] = []
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            names.extend(_flatten(value, name + "."))
        else:
            names.append(name)
    return names
