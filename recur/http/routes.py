"""One declaration per route: who may call it, what it takes and what it answers, stated once.

    @route(bp.post, "/v1/products/<product_id>/plans", "Catalog", "Define a plan of a product", roles=PRODUCER,
           body=PlanSchema, response=PlanView, status=201, location="/v1/plans/{id}", etag=True)
    def define_plan(product_id: str, caller: Caller, body: dict[str, Any]) -> Plan:
        return commands.define_plan(services(), product_id, caller.scope, body, caller.actor())

From those lines the route checks the credentials, loads and validates the body and the query string with their
marshmallow schemas, hands the view what it names among `caller`, `body`, `query`, `expected` (the versions an
If-Match accepts) and `raw_body` (the body's bytes exactly as received, for a signature computed over them; the
`body` declared beside it then only documents it), and dumps whatever the view returns through the response schema,
with the declared status, the ETag of the aggregate's `version` and the `Location` of what a 201 created. The OpenAPI document
(recur/http/openapi.py) is generated from the same declarations, so what is served and what is published cannot
drift apart. A view may still return a ready Response (a file, a problem, an HTML page): it is sent as it is.

We wrote this (about 150 lines) rather than adopting flask-smorest, which has the same shape: its document covers
only its own blueprints (ours also holds the metrics, docs and dashboard pages), it parses through webargs with an
error format of its own (ours is problem+json everywhere), and its ETag is a hash of the body, where ours is the
aggregate's version so that If-Match can be checked inside the command.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError

from recur.http.auth import Caller, public, require
from recur.http.conditional import expected_version
from recur.http.errors import ApiError
from recur.http.schemas import load

ADMIN, PRODUCER, ANY_CALLER = ("admin",), ("producer", "admin"), ("producer", "admin", "subscriber")
DASHBOARD_SESSION = "dashboardSession"  # the dashboard page's cookie, not a bearer token
JSON = "application/json"
ROUTE_ATTRIBUTE = "route"
INJECTED = ("caller", "body", "query", "expected", "raw_body")


@dataclass(frozen=True)
class Route:
    """What the URL map cannot tell about a route."""

    tag: str
    summary: str
    roles: tuple[str, ...] = ()  # bearer credentials allowed; none: public (or the dashboard session)
    body: type[Schema] | dict[str, Any] | None = None  # a schema loads JSON; a dict only documents a form
    body_required: bool = True
    body_media: str = JSON
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    media: tuple[str, ...] = (JSON,)
    description: str = ""
    pages: dict[int, str] = field(default_factory=dict)  # other answers that are HTML pages: status -> when
    location: str | None = None  # a 201's Location, formatted with the answer's fields: "/v1/plans/{id}"
    etag: bool = False  # the answer is an aggregate: its version is the ETag
    if_match: bool = False  # the view takes `expected` and the command refuses a stale version (412)
    session: bool = False  # needs the dashboard page's session cookie
    problems: tuple[int, ...] = ()  # problem statuses the generic rules do not give it (a public route's 401, a 404 without ids)

    @property
    def security(self) -> tuple[str, ...]:
        return (DASHBOARD_SESSION,) if self.session else self.roles


def route(add_rule: Callable[..., Any], rule: str, tag: str, summary: str, **declared: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register the decorated view with `add_rule` (`bp.get`, `bp.post`, ...) under its declaration."""
    declaration = Route(tag, summary, **declared)

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        wanted = [name for name in INJECTED if name in inspect.signature(view).parameters]
        body_schema = declaration.body() if isinstance(declaration.body, type) else None
        query_schema = declaration.query(unknown=EXCLUDE) if declaration.query else None
        answer_schema = declaration.response() if declaration.response else None

        def serve(**path: Any) -> Any:
            given: dict[str, Any] = {}
            caller = require(*declaration.roles) if declaration.roles else None
            if "caller" in wanted:
                given["caller"] = caller
            if body_schema is not None:
                empty = not declaration.body_required and not request.get_data()
                given["body"] = load(body_schema, {} if empty else request.get_json())
            if query_schema is not None and "query" in wanted:
                given["query"] = load_query(query_schema)
            if "expected" in wanted:
                given["expected"] = expected_version()
            if "raw_body" in wanted:
                given["raw_body"] = request.get_data()
            result = view(**path, **{name: given[name] for name in wanted if name in given})
            if answer_schema is None or isinstance(result, Response):
                return result
            return answer(declaration, answer_schema, result)

        serve.__name__, serve.__doc__ = view.__name__, view.__doc__
        setattr(serve, ROUTE_ATTRIBUTE, declaration)
        if not declaration.roles:
            public(serve)
        if hasattr(view, "deadline_seconds"):  # @allow_seconds beneath the declaration
            serve.deadline_seconds = view.deadline_seconds  # type: ignore[attr-defined]
        add_rule(rule)(serve)
        return view

    return register


def answer(declaration: Route, schema: Schema, result: Any) -> Response:
    body = schema.dump(result)
    response = jsonify(body)
    response.status_code = declaration.status
    if declaration.etag:
        response.set_etag(str(body["version"]))
    if declaration.location:
        response.headers["Location"] = declaration.location.format_map(body)
    return response


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string through its schema; invalid parameters are a 422 naming each, as the body's fields are."""
    try:
        loaded: dict[str, Any] = schema.load(request.args.to_dict(flat=True))
    except ValidationError as error:
        messages = error.normalized_messages()
        detail = "; ".join(f"{name} {' '.join(str(m) for m in problems)}" for name, problems in sorted(messages.items()))
        raise ApiError(422, "validation-error", "Invalid request", detail, messages) from None
    return loaded


def declaration_of(view: Any) -> Route | None:
    found: Route | None = getattr(view, ROUTE_ATTRIBUTE, None)
    return found


def register_replayed_headers(app: Flask) -> None:
    """An answer replayed for a repeated Idempotency-Key comes from storage, not from its view: its Location and
    ETag are derived again from the stored body, as the declaration says."""

    @app.after_request
    def declared_headers(response: Response) -> Response:
        if not response.headers.get("Idempotent-Replayed"):
            return response
        declaration = declaration_of(app.view_functions.get(request.endpoint or ""))
        body = response.get_json(silent=True)
        if declaration is None or not isinstance(body, dict):
            return response
        if declaration.location and response.status_code == 201:
            response.headers["Location"] = declaration.location.format_map(body)
        if declaration.etag and isinstance(body.get("version"), int):
            response.set_etag(str(body["version"]))
        return response


class Extended:
    """An object seen with a few more attributes: a started subscription and its one-time token, dumped as one."""

    def __init__(self, base: Any, **extra: Any) -> None:
        self._base, self._extra = base, extra

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__["_extra"]
        return extra[name] if name in extra else getattr(self.__dict__["_base"], name)


__all__ = ["ADMIN", "ANY_CALLER", "PRODUCER", "Caller", "Extended", "Route", "declaration_of", "route"]
