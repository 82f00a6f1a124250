"""Optimistic concurrency over HTTP (RFC 9110 section 13): an `ETag` on every representation of a subscription, product,
plan or offer, and `If-Match` honoured by the requests that change one.

The entity tag is the aggregate's `version`, quoted: `"7"`. It is a strong tag because If-Match compares strongly
(RFC 9110 13.1.1): a weak tag could never satisfy it. A version names exactly one state of the aggregate, and one
state has one representation. A request with `If-Match` whose tags do not name the current version is refused
with 412 before any change; without the header nothing is checked (`*` asks only that the resource exists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, jsonify, request

from recur.commands.versions import ANY_VERSION, Expected

View = TypeVar("View", bound=Callable[..., Any])


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version() -> Expected:
    """The versions the client's If-Match accepts: ANY_VERSION without the header (or with `*`), else those its
    strong tags name (none when every tag is weak or not a version: then only a 412 can follow)."""
    if "If-Match" not in request.headers:
        return ANY_VERSION
    tags = request.if_match
    if tags.star_tag:
        return ANY_VERSION
    return frozenset(int(tag) for tag in tags.as_set(include_weak=False) if tag.isdigit() and len(tag) <= 18)


def versioned(body: dict[str, Any], version: int, status: int = 200) -> Response:
    """The representation of an aggregate, tagged with its version."""
    response = jsonify(body)
    response.status_code = status
    response.set_etag(str(version))
    return response


def created(location: str) -> Callable[[View], View]:
    """A route answering 201 names what it created in `Location`, from its answer's fields (`/v1/plans/{id}`)."""

    def mark(view: View) -> View:
        view.location = location  # type: ignore[attr-defined]
        return view

    return mark


def tags_version(view: View) -> View:
    """A route whose answer is an aggregate's representation: replayed answers get its ETag back too."""
    view.tagged = True  # type: ignore[attr-defined]
    return view


def register_conditional(app: Flask) -> None:
    @app.after_request
    def name_what_was_created(response: Response) -> Response:
        """Also for a replayed answer (Idempotency-Key), which comes from storage, not from the view."""
        view = app.view_functions.get(request.endpoint or "")
        template = getattr(view, "location", None)
        if response.status_code == 201 and template and "Location" not in response.headers:
            body = response.get_json(silent=True)
            if isinstance(body, dict):
                response.headers["Location"] = template.format_map(body)
        if response.headers.get("Idempotent-Replayed") and response.is_json and "ETag" not in response.headers:
            body = response.get_json(silent=True)
            if isinstance(body, dict) and isinstance(body.get("version"), int) and getattr(view, "tagged", False):
                response.set_etag(str(body["version"]))
        return response
