"""How long a request may wait on the database before it is answered 503 with Retry-After.

Most requests need a few milliseconds of database time: five seconds without an answer means the
database is down, paused or drowning, and the client is better served by a prompt 503 than a hang.
A few routes do more by design (whole-period report files, the sandbox clock advance, billing runs):
they declare their own allowance with `@allow_seconds(...)` beside the route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, g, request

from recur.deadlines import end_deadline, start_deadline

DEFAULT_SECONDS = 5.0
View = TypeVar("View", bound=Callable[..., object])


def allow_seconds(seconds: float | None) -> Callable[[View], View]:
    """Give a route its own database allowance (None: it may wait as long as it needs)."""

    def mark(view: View) -> View:
        view.deadline_seconds = seconds  # type: ignore[attr-defined]
        return view

    return mark


def register_request_deadline(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        view = app.view_functions.get(request.endpoint or "")
        g.deadline_token = start_deadline(getattr(view, "deadline_seconds", DEFAULT_SECONDS))

    @app.teardown_request
    def end(_: BaseException | None) -> None:
        token = g.pop("deadline_token", None)
        if token is not None:
            end_deadline(token)
