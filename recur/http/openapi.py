"""`GET /openapi.json`: the OpenAPI 3.1 description of every route the app serves.

The document is generated, never hand-maintained: paths come from the app's own URL map (so a route cannot exist
without appearing, and sandbox paths appear only where the sandbox is mounted), and each operation from the route's
declaration (recur/http/routes.py): its credentials, the marshmallow schemas it loads its body and query string
with, the schema it dumps its answer through, its status, ETag, If-Match and Location. A route without a
declaration is still published, with a generic description, rather than silently left out.
It is built once per app, on first use (after every blueprint is registered), and then cached.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint, Flask, Response, current_app
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import Rule

from recur.http.limits import MAX_BODY_BYTES
from recur.http.representations.operations import ProblemView
from recur.http.routes import ANY_CALLER, JSON, Route, declaration_of, route

bp = Blueprint("openapi", __name__)
SPEC_KEY, LOCK_KEY = "recur.openapi", "recur.openapi.lock"
DESCRIPTION = """Event-sourced subscription billing. JSON everywhere; timestamps are ISO 8601 in UTC; money is
`{"amount": <integer minor units>, "currency": "BRL"}`; ids are strings.

Credentials: `Authorization: Bearer <token>`, where the token is the admin token, a producer's `api_key` or a
subscriber's `subscriber_token` (see the security schemes). A producer sees only its own data; anything that is not
yours answers 404, never 403, so no id is ever confirmed.

Every POST accepts an `Idempotency-Key` header: a repeat with the same key and body returns the first response
and has no second effect; the same key with another body is a 422.

Errors are `application/problem+json` with `type`, `title`, `status`, `detail` and, for invalid input, `errors`
(field -> messages)."""


def schema_name(schema: Any) -> str:
    """Request schemas (`PlanSchema`) become `PlanInput`, representations (`PlanView`) become `Plan`: one name each."""
    name = resolve_schema_cls(schema).__name__
    if name.endswith("Schema"):
        return name[: -len("Schema")] + "Input"
    return name.removesuffix("View")


# ---------------------------------------------------------------- operations
UUID_PARAMETER = {"type": "string", "format": "uuid"}
PATH_PARAMS = {
    "product_id": ("the product's id", UUID_PARAMETER),
    "plan_id": ("the plan's id", UUID_PARAMETER),
    "offer_id": ("the offer's id", UUID_PARAMETER),
    "subscription_id": ("the subscription's id", UUID_PARAMETER),
    "producer_id": ("the producer's id", UUID_PARAMETER),
    "schedule_id": ("the report schedule's id", UUID_PARAMETER),
    "endpoint_id": ("the webhook endpoint's id", UUID_PARAMETER),
    "delivery_id": ("the delivery's `id`", {"type": "string"}),
    "token": ("a sandbox card token", {"type": "string"}),
    "boleto_id": ("the boleto's id (in the subscription's `boleto`)", {"type": "string"}),
    "email_id": ("the e-mail's `id` in the sandbox outbox", {"type": "string"}),
}
SECURITY_SCHEMES = {
    "admin": {"type": "http", "scheme": "bearer", "description": "The admin token (RECUR_ADMIN_TOKEN). Sees and does everything."},
    "producer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A producer's `api_key` (rk_...), returned once by POST /v1/producers. Sees only its own data.",
    },
    "subscriber": {
        "type": "http",
        "scheme": "bearer",
        "description": "A `subscriber_token` (st_...), returned once by POST /v1/subscriptions. Only that subscription.",
    },
    "dashboardSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "recur_dashboard",
        "description": "The dashboard page's session cookie, set by POST /dashboard/sign-in with a producer's api_key.",
    },
}
PROBLEMS = {
    "400": ("Malformed", "the body is not JSON, or is nested too deeply to be"),
    "401": ("Unauthorized", "no credentials, or credentials that are not valid"),
    "404": ("NotFound", "no such resource, or it is not yours (another tenant's ids are never confirmed)"),
    "409": ("Conflict", "not allowed in the current state, a concurrent modification, or the same Idempotency-Key still in progress"),
    "412": ("PreconditionFailed", "If-Match names a version the resource has left: read it again (the current ETag is in this "
            "answer's ETag header), then decide again"),
    "413": ("TooLarge", f"the body is larger than {MAX_BODY_BYTES} bytes"),
    "422": ("Invalid", "invalid input: `errors` names each field (also an Idempotency-Key reused with another body)"),
    "503": ("Unavailable", "a dependency (the database) is down; retry shortly"),
}
TAGS = {
    "Catalog": "Producers, products, plans and offers.",
    "Subscriptions": "Start, read (now or as of a past instant), list, audit trail and commands. "
    "Commands answer the subscription as it is after them.",
    "Reports": "Reports, report schedules (a report e-mailed after each period) and the cancellation dashboard (producer; admin "
    "with producer_id).",
    "Webhooks": "Producers' URLs that receive their subscriptions' events as signed POSTs (Standard Webhooks), and their "
    "deliveries (producer; admin with producer_id).",
    "Dashboard page": "The cancellation dashboard as an HTML page for producers.",
    "Sandbox": "Test cards, outcome queues, boleto payments, the shared clock and the outbox of the local SMTP sink (only "
    "with RECUR_SANDBOX=1). Card tokens need no credentials; everything else is for the admin.",
    "Operations": "Health, readiness, billing runs, metrics and this documentation.",
    "Gateway events": "What payment gateways post to recur (webhooks): no bearer credentials, each event verified by the "
    "gateway's own signature.",
    "Audit": "The event log's hash chain, verified (admin). The audit trails of subscriptions, products and plans are beside them.",
}
BLUEPRINT_TAGS = {
    "catalog": "Catalog",
    "subscriptions": "Subscriptions",
    "reports": "Reports",
    "report_schedules": "Reports",
    "webhooks": "Webhooks",
    "dashboard_page": "Dashboard page",
    "sandbox": "Sandbox",
    "gateway_events": "Gateway events",
    "audit": "Audit",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}  # RFC 9110: every other method may change something


# ---------------------------------------------------------------- building
PATH_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_]\w*)>")
CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": UUID_PARAMETER}


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """`/v1/plans/<plan_id>` -> `/v1/plans/{plan_id}` and its path parameters."""
    parameters = []
    for match in PATH_VARIABLE.finditer(rule.rule):
        name = match["name"]
        description, schema = PATH_PARAMS.get(name, (name.replace("_", " "), {"type": "string"}))
        schema = CONVERTER_TYPES.get(match["converter"] or "", schema)
        parameters.append({"in": "path", "name": name, "required": True, "description": description, "schema": schema})
    return PATH_VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule.rule), parameters


def fallback(app: Flask, rule: Rule) -> Route:
    """A route nobody declared is published all the same, with what the code itself says."""
    view = app.view_functions.get(rule.endpoint)
    doc = (view.__doc__ or "").strip().splitlines() if view else []
    summary = doc[0] if doc else rule.endpoint.rpartition(".")[2].replace("_", " ").capitalize()
    tag = BLUEPRINT_TAGS.get(rule.endpoint.partition(".")[0], "Operations")
    roles = ANY_CALLER if rule.rule.startswith("/v1/") and tag != "Sandbox" else ()
    return Route(tag, summary, roles, description="Not described in detail here yet: see docs/API.md.")


def operation(app: Flask, rule: Rule, method: str, path_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    declared = declaration_of(app.view_functions.get(rule.endpoint))
    described = declared is not None
    op = declared or fallback(app, rule)
    parameters: list[Any] = [*path_parameters]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if method == "POST":
        parameters.append("IdempotencyKey")
    if op.if_match:
        parameters.append("IfMatch")
    result: dict[str, Any] = {
        "operationId": rule.endpoint,
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": parameters,
        "security": [{role: []} for role in op.security],
        "responses": responses(op, rule, method, described),
    }
    if op.description:
        result["description"] = op.description
    if op.body is not None:
        result["requestBody"] = {"required": op.body_required, "content": {op.body_media: {"schema": op.body}}}
    elif method not in SAFE_METHODS and not described:
        result["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
    return result


def responses(op: Route, rule: Rule, method: str, described: bool) -> dict[str, Any]:
    """The success response, then the problems this route can answer (every /v1 route is behind the database)."""
    if not described:
        success: dict[str, Any] = {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}
        answers: dict[str, Any] = {"2XX": success}
    else:
        content: dict[str, Any] = {}
        for media in op.media:
            if media == JSON:
                content[media] = {"schema": op.response or {"type": "object"}}
            else:
                content[media] = {"schema": {"type": "string"}}
        success = {"description": "see other" if op.status == 303 else "success"}
        if content:
            success["content"] = content
        headers = {}
        if op.etag:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if op.location:
            headers["Location"] = {"description": "the path of what was created", "schema": {"type": "string"}}
        if headers:
            success["headers"] = headers
        answers = {str(op.status): success}
        for status, when in op.pages.items():
            answers[str(status)] = {"description": when, "content": {"text/html": {"schema": {"type": "string"}}}}
    v1 = rule.rule.startswith("/v1/")
    if op.roles:
        answers["401"] = PROBLEMS["401"][0]
    if v1 and (op.roles or "<" in rule.rule):
        answers["404"] = PROBLEMS["404"][0]
    if v1 and method not in SAFE_METHODS:
        answers["409"] = PROBLEMS["409"][0]
    if op.if_match:
        answers["412"] = PROBLEMS["412"][0]
    if v1 and op.body is not None:
        answers["400"], answers["413"] = PROBLEMS["400"][0], PROBLEMS["413"][0]
    if v1 and (op.body is not None or op.query is not None or method not in SAFE_METHODS):
        answers["422"] = PROBLEMS["422"][0]
    if v1 or rule.endpoint == "operations.readyz":
        answers["503"] = PROBLEMS["503"][0]
    for status in op.problems:
        answers[str(status)] = PROBLEMS[str(status)][0]
    return answers


def build_spec(app: Flask) -> dict[str, Any]:
    """The whole document, from the app's URL map as it is now (call it once every blueprint is registered)."""
    spec = APISpec(
        title="recur",
        version=_version(),
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={"description": DESCRIPTION},
    )
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    spec.components.parameter(
        "IdempotencyKey",
        "header",
        {
            "name": "Idempotency-Key",
            "required": False,
            "description": "A repeat with the same key and body replays the first response with no second effect; "
            "the same key with another body is a 422.",
            "schema": {"type": "string", "maxLength": 255},
        },
    )
    spec.components.parameter(
        "IfMatch",
        "header",
        {
            "name": "If-Match",
            "required": False,
            "description": "The ETag of the version you read (`\"7\"`): the change is made only if the resource is still at "
            "that version, else 412. Without it, no check.",
            "schema": {"type": "string", "maxLength": 1000},
        },
    )
    spec.components.header(
        "ETag", {"description": "the resource's version, quoted (`\"7\"`): send it back in If-Match to change it only if no one "
                 "else did meanwhile", "schema": {"type": "string"}}
    )
    spec.components.schema("Problem", schema=ProblemView)
    for status, (name, description) in PROBLEMS.items():
        answer: dict[str, Any] = {"description": description, "content": {"application/problem+json": {"schema": "Problem"}}}
        if status == "401":
            answer["headers"] = {"WWW-Authenticate": {"description": 'always `Bearer realm="recur"`', "schema": {"type": "string"}}}
        spec.components.response(name, answer)
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static" and not r.endpoint.endswith(".static")),
                   key=lambda r: r.rule)
    paths: dict[str, dict[str, Any]] = {}
    used_tags: set[str] = set()
    for rule in rules:
        path, path_parameters = openapi_path(rule)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            op = operation(app, rule, method, path_parameters)
            if len(methods) > 1:  # operationIds are unique per method
                op["operationId"] += f".{method.lower()}"
            used_tags.update(op["tags"])
            paths.setdefault(path, {})[method.lower()] = op
    for name, description in TAGS.items():
        if name in used_tags:
            spec.tag({"name": name, "description": description})
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _version() -> str:
    try:
        return version("recur")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True)
class PublishedSpec:
    document: dict[str, Any]
    body: str


@bp.record_once
def prepare_cache(state: BlueprintSetupState) -> None:
    """One lock per app: gthread workers serve the first requests concurrently, and the spec should be built once."""
    state.app.extensions[LOCK_KEY] = threading.Lock()


def published_spec(app: Flask) -> PublishedSpec:
    """The app's spec, built on first use: later than create_app, so blueprints registered after this one are included."""
    cached: PublishedSpec | None = app.extensions.get(SPEC_KEY)
    if cached is None:
        with app.extensions[LOCK_KEY]:
            cached = app.extensions.get(SPEC_KEY)
            if cached is None:
                document = build_spec(app)
                cached = PublishedSpec(document, json.dumps(document, indent=1))
                app.extensions[SPEC_KEY] = cached
    return cached


def spec_for(app: Flask) -> dict[str, Any]:
    return published_spec(app).document


@route(bp.get, "/openapi.json", "Operations", "This OpenAPI 3.1 document")
def openapi_document() -> Response:
    return Response(published_spec(current_app).body, mimetype="application/json")
