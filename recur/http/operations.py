"""Health, readiness and billing runs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, json

from recur.http.context import services
from recur.http.errors import dependency_down, problem
from recur.http.representations.operations import BillingRunView, HealthView, ReadinessView
from recur.http.request_deadline import allow_seconds
from recur.http.routes import ADMIN, route
from recur.projections.queries.operations import database_answers
from recur.scheduler import RunReport, run_due

bp = Blueprint("operations", __name__)
TAG = "Operations"


@route(bp.get, "/healthz", TAG, "Liveness: the process answers", response=HealthView)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@route(bp.get, "/readyz", TAG, "Readiness: the database and the broker are reachable", response=ReadinessView)
@allow_seconds(2)  # a probe that hangs is as bad as one that lies
def readyz() -> dict[str, Any] | Response:
    from recur.http.pipeline_health import pipeline_checks

    checks: dict[str, str] = {}
    try:
        database_answers(services().db)
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"unreachable: {error.__class__.__name__}"
    bootstrap = services().settings.kafka_bootstrap_servers
    checks["broker"] = "ok" if bootstrap and _broker_reachable(bootstrap) else "unreachable"
    if checks["database"] == "ok":
        try:
            checks.update(pipeline_checks(current_app.extensions, services().db))
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            checks["read_models"] = f"unknown: {error.__class__.__name__}"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks}
    failing = {name: value for name, value in checks.items() if value != "ok"}
    if "database" in failing or "broker" in failing:
        return dependency_down("a dependency is unreachable: " + json.dumps(checks), title="Not ready")
    return problem(503, "not-ready", "Not ready", "; ".join(f"{name}: {value}" for name, value in failing.items()))


def _broker_reachable(bootstrap: str) -> bool:
    import socket

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@route(bp.post, "/v1/billing/run", TAG, "Run every charge, retry and expiry due now", roles=ADMIN, response=BillingRunView,
       description="The scheduler in `recur up` does the same continuously.")
@allow_seconds(None)
def billing_run() -> RunReport:
    return run_due(services())
