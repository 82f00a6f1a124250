"""`GET /openapi.json`: the OpenAPI 3.1 description of every route the app serves.

The document is generated, never hand-maintained: paths come from the app's own URL map (so a
route cannot exist without appearing, and sandbox paths appear only where the sandbox is mounted),
request bodies from the very marshmallow schemas the blueprints validate with (apispec's
MarshmallowPlugin), and responses from the schemas in representations.py, which mirror views.py.
Each operation's words (summary, credentials, query parameters) live in OPERATIONS; a route missing
there is still published, with a generic description, rather than silently left out.
It is built once per app, on first use (after every blueprint is registered), and then cached.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Blueprint, Flask, Response, current_app
from flask.blueprints import BlueprintSetupState
from marshmallow import Schema
from werkzeug.routing import Rule

from recur.gateways.sandbox import TEST_CARDS
from recur.http import catalog, sandbox, subscriptions
from recur.http.limits import MAX_BODY_BYTES
from recur.http.representations import (
    STATUSES,
    BillingRunView,
    CardTokenView,
    ClockAdvancedView,
    ClockView,
    DashboardView,
    EventListView,
    HealthView,
    InstallmentsReportView,
    OfferView,
    PlanView,
    ProblemView,
    ProducerView,
    ProductPageView,
    ProductView,
    QueuedOutcomesView,
    ReadinessView,
    RegisteredProducerView,
    SalesReportView,
    StartedSubscriptionView,
    SubscriptionPageView,
    SubscriptionsReportView,
    SubscriptionView,
)
from recur.http.schemas import PaymentMethodSchema

bp = Blueprint("openapi", __name__)
SPEC_KEY, LOCK_KEY = "recur.openapi", "recur.openapi.lock"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
def query(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False) -> dict[str, Any]:
    return {"in": "query", "name": name, "description": description, "required": required, "schema": schema or {"type": "string"}}


def page_params(default: int = 50, maximum: int = 500) -> tuple[dict[str, Any], ...]:
    return (
        query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}),
        query("cursor", "the next_cursor of the previous page"),
    )


UUID_QUERY = {"type": "string", "format": "uuid"}
PERIOD = (
    query("from", "start: a date (whole day) or an ISO 8601 timestamp; default 30 days before `to`"),
    query("to", "end: a date (that day included) or an ISO 8601 timestamp; default now"),
)
TENANT = query("producer_id", "admin credentials only: whose data", UUID_QUERY)
REPORT_PARAMS = (
    *PERIOD,
    query("product_id", "only this product", UUID_QUERY),
    TENANT,
    query("format", "json pages, or the whole period as a file", {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"}),
    *page_params(default=100, maximum=1000),
)
DASHBOARD_FILTERS = (*PERIOD, query("product_id", "only this product", UUID_QUERY), query("plan_id", "only this plan", UUID_QUERY))
PATH_PARAMS = {
    "product_id": ("the product's id", UUID_QUERY),
    "plan_id": ("the plan's id", UUID_QUERY),
    "offer_id": ("the offer's id", UUID_QUERY),
    "subscription_id": ("the subscription's id", UUID_QUERY),
    "token": ("a sandbox card token", {"type": "string"}),
    "boleto_id": ("the boleto's id (in the subscription's `boleto`)", {"type": "string"}),
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
    "Reports": "Reports and the cancellation dashboard (producer; admin with producer_id).",
    "Dashboard page": "The cancellation dashboard as an HTML page for producers.",
    "Sandbox": "Test cards, outcome queues, boleto payments and the shared clock (only with RECUR_SANDBOX=1). "
    "Card tokens need no credentials; everything else is for the admin.",
    "Operations": "Health, readiness, billing runs, metrics and this documentation.",
}
BLUEPRINT_TAGS = {
    "catalog": "Catalog",
    "subscriptions": "Subscriptions",
    "reports": "Reports",
    "dashboard_page": "Dashboard page",
    "sandbox": "Sandbox",
}
ADMIN, PRODUCER, ANY_CALLER = ("admin",), ("producer", "admin"), ("producer", "admin", "subscriber")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}  # RFC 9110: every other method may change something


@dataclass(frozen=True)
class Operation:
    """What the URL map cannot tell about a route: its words, who may call it, and what it takes and answers."""

    tag: str
    summary: str
    roles: tuple[str, ...] = ()
    body: type[Schema] | dict[str, Any] | None = None
    body_required: bool = True
    body_media: str = "application/json"
    response: type[Schema] | None = None
    status: int = 200
    media: tuple[str, ...] = ("application/json",)
    query: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    description: str = ""
    pages: dict[int, str] = field(default_factory=dict)  # other answers that are HTML pages: status -> when
    etag: bool = False  # the answer is an aggregate's representation, with its version as ETag
    if_match: bool = False  # honours If-Match (412 when stale)


SIGN_IN_FORM = {
    "type": "object",
    "required": ["api_key", "csrf_token"],
    "properties": {
        "api_key": {"type": "string", "description": "the producer's api_key"},
        "csrf_token": {"type": "string", "description": "from the sign-in form"},
        "next_query": {"type": "string", "description": "dashboard filters to return to"},
    },
}
OPERATIONS: dict[str, Operation] = {
    "operations.healthz": Operation("Operations", "Liveness: the process answers", response=HealthView),
    "operations.readyz": Operation("Operations", "Readiness: the database and the broker are reachable", response=ReadinessView),
    "operations.billing_run": Operation(
        "Operations", "Run every charge, retry and expiry due now", ADMIN, response=BillingRunView,
        description="The scheduler in `recur up` does the same continuously.",
    ),
    "metrics.metrics": Operation(
        "Operations", "Prometheus metrics", media=("text/plain",),
        description="Request counts and latencies per route, subscriptions by status, projection lag and the event-store head.",
    ),
    "openapi.openapi_document": Operation("Operations", "This OpenAPI 3.1 document"),
    "docs_page.docs": Operation("Operations", "This API as an HTML page", media=("text/html",)),
    "catalog.register_producer": Operation(
        "Catalog", "Register a producer", ADMIN, catalog.ProducerSchema, response=RegisteredProducerView, status=201,
        description="The response carries the producer's `api_key`, shown only this once.",
    ),
    "catalog.get_producer": Operation("Catalog", "Read a producer", PRODUCER, response=ProducerView, etag=True,
                                      description="The admin reads any producer; a producer only itself."),
    "catalog.create_product": Operation(
        "Catalog", "Create a product", PRODUCER, catalog.ProductSchema, response=ProductView, status=201, etag=True,
        description="Admin credentials must name the producer with `producer_id`.",
    ),
    "catalog.list_products": Operation("Catalog", "List products", PRODUCER, response=ProductPageView, query=(TENANT, *page_params())),
    "catalog.get_product": Operation("Catalog", "Read a product", PRODUCER, response=ProductView, etag=True),
    "catalog.define_plan": Operation("Catalog", "Define a plan of a product", PRODUCER, catalog.PlanSchema, response=PlanView, status=201,
                                     etag=True),
    "catalog.get_plan": Operation("Catalog", "Read a plan", ANY_CALLER, response=PlanView, etag=True),
    "catalog.revise_plan": Operation(
        "Catalog", "Revise a plan", PRODUCER, catalog.PlanPatchSchema, response=PlanView, etag=True, if_match=True,
        description="A new price applies to subscriptions started afterwards only.",
    ),
    "catalog.create_offer": Operation("Catalog", "Create an offer (another price) of a plan", PRODUCER, catalog.OfferSchema,
                                      response=OfferView, status=201, etag=True),
    "catalog.get_offer": Operation("Catalog", "Read an offer", PRODUCER, response=OfferView, etag=True),
    "catalog.revise_offer": Operation("Catalog", "Revise an offer", PRODUCER, catalog.OfferPatchSchema, response=OfferView, etag=True,
                                      if_match=True,
                                      description="Applies to new subscribers only."),
    "subscriptions.start_subscription": Operation(
        "Subscriptions", "Start a subscription", PRODUCER, subscriptions.StartSchema, response=StartedSubscriptionView, status=201,
        etag=True,
        description="With a trial: `trialing`. Without: the first charge runs now; approved -> `active`, declined -> `pending`. "
        "Boleto: a boleto is issued and the subscription becomes `active` when it is paid.",
    ),
    "subscriptions.list_subscriptions": Operation(
        "Subscriptions", "List subscriptions", PRODUCER, response=SubscriptionPageView,
        query=(
            query("status", "only this status", {"type": "string", "enum": STATUSES}),
            query("product_id", "only this product", UUID_QUERY),
            query("plan_id", "only this plan", UUID_QUERY),
            TENANT,
            *page_params(),
        ),
    ),
    "subscriptions.get_subscription": Operation(
        "Subscriptions", "Read a subscription", ANY_CALLER, response=SubscriptionView, etag=True,
        query=(query("as_of", "the state at this instant, rebuilt from its events", {"type": "string", "format": "date-time"}),),
    ),
    "subscriptions.subscription_events": Operation("Subscriptions", "The subscription's audit trail: its events in order", ANY_CALLER,
                                                   response=EventListView),
    "subscriptions.cancel": Operation(
        "Subscriptions", "Cancel a subscription", ANY_CALLER, subscriptions.CancelSchema, body_required=False, response=SubscriptionView,
        etag=True, if_match=True,
        description="The origin comes from the credentials: subscriber -> customer, producer -> seller, admin -> admin.",
    ),
    "subscriptions.change_plan": Operation(
        "Subscriptions", "Change plan at the next renewal", ANY_CALLER, subscriptions.ChangePlanSchema, response=SubscriptionView,
        etag=True, if_match=True,
        description="Same product only; the next cycle is billed with the new plan's price and periodicity.",
    ),
    "subscriptions.change_payment_method": Operation("Subscriptions", "Replace the payment method", ANY_CALLER, PaymentMethodSchema,
                                                     response=SubscriptionView, etag=True, if_match=True),
    "subscriptions.change_billing_day": Operation("Subscriptions", "Move the next charges to a day of the month", ANY_CALLER,
                                                  subscriptions.BillingDaySchema, response=SubscriptionView, etag=True, if_match=True),
    "subscriptions.reprocess": Operation(
        "Subscriptions", "Charge the overdue installment now", ANY_CALLER, response=SubscriptionView, etag=True, if_match=True,
        description="For `past_due` or `inactive` subscriptions; approved -> `active` again.",
    ),
    "reports.sales_report": Operation("Reports", "Sales: transactions created or updated in the period", PRODUCER,
                                      response=SalesReportView, media=("application/json", "text/csv", XLSX), query=REPORT_PARAMS),
    "reports.subscriptions_report": Operation("Reports", "Subscriptions created or updated in the period", PRODUCER,
                                              response=SubscriptionsReportView, media=("application/json", "text/csv", XLSX),
                                              query=REPORT_PARAMS),
    "reports.installments_report": Operation("Reports", "Installment charges created in the period", PRODUCER,
                                             response=InstallmentsReportView, media=("application/json", "text/csv", XLSX),
                                             query=REPORT_PARAMS),
    "reports.cancellations_dashboard": Operation(
        "Reports", "Cancellation dashboard", PRODUCER, response=DashboardView, query=(*DASHBOARD_FILTERS, TENANT),
        description="lt_months, ltv and avg_paid_recurrences are over the subscriptions cancelled in the period.",
    ),
    "dashboard_page.cancellations": Operation(
        "Dashboard page", "The cancellation dashboard page (a sign-in form without a session)", ("dashboardSession",),
        media=("text/html",), query=DASHBOARD_FILTERS,
    ),
    "dashboard_page.sign_in": Operation(
        "Dashboard page", "Sign in to the dashboard page with a producer's api_key", body=SIGN_IN_FORM,
        body_media="application/x-www-form-urlencoded", status=303, media=(),
        pages={401: "the sign-in form again, saying why: the api_key is not valid", 403: "the sign-in form again: the CSRF token is "
               "missing or stale"},
    ),
    "dashboard_page.sign_out": Operation("Dashboard page", "Sign out of the dashboard page", ("dashboardSession",),
                                         body={"type": "object", "properties": {"csrf_token": {"type": "string"}}},
                                         body_media="application/x-www-form-urlencoded", status=303, media=(),
                                         pages={403: "a page saying the form was refused: the CSRF token is missing or stale"}),
    "sandbox.create_card_token": Operation(
        "Sandbox", "Tokenize a test card (no credentials: a buyer's browser calls it)", body=sandbox.CardSchema,
        response=CardTokenView, status=201,
        description="; ".join(f"{number}: {outcome}" for number, outcome in TEST_CARDS.items())
        + "; other numbers passing Luhn approve; failing Luhn is a 422.",
    ),
    "sandbox.get_card_token": Operation("Sandbox", "Read a test card's token", ADMIN, response=CardTokenView),
    "sandbox.queue_outcomes": Operation("Sandbox", "Queue the results of a test card's next charges", ADMIN, sandbox.OutcomesSchema,
                                        response=QueuedOutcomesView, status=201),
    "sandbox.pay": Operation("Sandbox", "The bank reports a boleto paid", ADMIN, response=SubscriptionView, etag=True),
    "sandbox.get_clock": Operation("Sandbox", "The sandbox clock", ADMIN, response=ClockView),
    "sandbox.advance": Operation(
        "Sandbox", "Move the sandbox clock forward and run everything that fell due", ADMIN, sandbox.AdvanceSchema,
        response=ClockAdvancedView,
        description="Runs, in time order, trial ends, charges, retries, reminders and scheduled reports; returns when the read "
        "models have caught up. One clock serves every tenant; it never goes back, nor further than ten years past the "
        "real present (and never past 2100).",
    ),
}


# ---------------------------------------------------------------- building
PATH_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_]\w*)>")
CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": UUID_QUERY}


def openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """`/v1/plans/<plan_id>` -> `/v1/plans/{plan_id}` and its path parameters."""
    parameters = []
    for match in PATH_VARIABLE.finditer(rule.rule):
        name = match["name"]
        description, schema = PATH_PARAMS.get(name, (name.replace("_", " "), {"type": "string"}))
        schema = CONVERTER_TYPES.get(match["converter"] or "", schema)
        parameters.append({"in": "path", "name": name, "required": True, "description": description, "schema": schema})
    return PATH_VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule.rule), parameters


def fallback(app: Flask, rule: Rule) -> Operation:
    """A route nobody described yet is published all the same, with what the code itself says."""
    view = app.view_functions.get(rule.endpoint)
    doc = (view.__doc__ or "").strip().splitlines() if view else []
    summary = doc[0] if doc else rule.endpoint.rpartition(".")[2].replace("_", " ").capitalize()
    tag = BLUEPRINT_TAGS.get(rule.endpoint.partition(".")[0], "Operations")
    roles = ANY_CALLER if rule.rule.startswith("/v1/") and tag != "Sandbox" else ()
    return Operation(tag, summary, roles, description="Not described in detail here yet: see API.md.")


def operation(app: Flask, rule: Rule, method: str, path_parameters: list[dict[str, Any]]) -> dict[str, Any]:
    described = rule.endpoint in OPERATIONS
    op = OPERATIONS[rule.endpoint] if described else fallback(app, rule)
    parameters: list[Any] = [*path_parameters, *op.query]
    if method == "POST":
        parameters.append("IdempotencyKey")
    if op.if_match:
        parameters.append("IfMatch")
    result: dict[str, Any] = {
        "operationId": rule.endpoint,
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": parameters,
        "security": [{role: []} for role in op.roles],
        "responses": responses(op, rule, method, described, app.view_functions.get(rule.endpoint)),
    }
    if op.description:
        result["description"] = op.description
    if op.body is not None:
        result["requestBody"] = {"required": op.body_required, "content": {op.body_media: {"schema": op.body}}}
    elif method not in SAFE_METHODS and not described:
        result["requestBody"] = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
    return result


def responses(op: Operation, rule: Rule, method: str, described: bool, view: Any) -> dict[str, Any]:
    """The success response, then the problems this route can answer (every /v1 route is behind the database)."""
    if not described:
        success: dict[str, Any] = {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}
        answers: dict[str, Any] = {"2XX": success}
    else:
        content: dict[str, Any] = {}
        for media in op.media:
            if media == "application/json":
                content[media] = {"schema": op.response or {"type": "object"}}
            else:
                content[media] = {"schema": {"type": "string"}}
        success = {"description": "see other" if op.status == 303 else "success"}
        if content:
            success["content"] = content
        headers = {}
        if op.etag:
            headers["ETag"] = {"$ref": "#/components/headers/ETag"}
        if op.status == 201 and getattr(view, "location", None):
            headers["Location"] = {"description": "the path of what was created", "schema": {"type": "string"}}
        if headers:
            success["headers"] = headers
        answers = {str(op.status): success}
        for status, when in op.pages.items():
            answers[str(status)] = {"description": when, "content": {"text/html": {"schema": {"type": "string"}}}}
    v1 = rule.rule.startswith("/v1/")
    if op.roles and op.roles != ("dashboardSession",):
        answers["401"] = PROBLEMS["401"][0]
    if v1 and (op.roles or "<" in rule.rule):
        answers["404"] = PROBLEMS["404"][0]
    if v1 and method not in SAFE_METHODS:
        answers["409"] = PROBLEMS["409"][0]
    if op.if_match:
        answers["412"] = PROBLEMS["412"][0]
    if v1 and op.body is not None:
        answers["400"], answers["413"] = PROBLEMS["400"][0], PROBLEMS["413"][0]
    if v1 and (op.body is not None or op.query or method not in SAFE_METHODS):
        answers["422"] = PROBLEMS["422"][0]
    if v1 or rule.endpoint == "operations.readyz":
        answers["503"] = PROBLEMS["503"][0]
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


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return Response(published_spec(current_app).body, mimetype="application/json")
