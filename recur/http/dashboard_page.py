"""`GET /dashboard/cancellations`: the cancellation dashboard as a web page for producers.

A producer signs in once with its API key; the page then lives on a signed session cookie that
holds only the producer id (and a random session id), so every figure shown is that producer's and
no query parameter can name another tenant. Signing out records the session id as ended, so a copy
of the cookie kept from before cannot open the page again. Figures come from the same `cancellation_dashboard` as the JSON endpoint and
its parameters are parsed by the same schema and `period()` (recur/http/query.py), so page and API agree.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from marshmallow import EXCLUDE

from recur.commands.catalog import producer_for_api_key
from recur.commands.dashboard_sessions import end_session, session_ended
from recur.http import charts
from recur.http.context import EXTENSION, services
from recur.http.errors import ApiError
from recur.http.query import DashboardFilters, period
from recur.http.routes import load_query, route
from recur.projections.queries.catalog import plan_names, product_names
from recur.projections.queries.dashboard import cancellation_dashboard

bp = Blueprint("dashboard_page", __name__, template_folder="templates")
TAG = "Dashboard page"
FORM = "application/x-www-form-urlencoded"
SIGN_IN_FORM = {
    "type": "object",
    "required": ["api_key", "csrf_token"],
    "properties": {
        "api_key": {"type": "string", "description": "the producer's api_key"},
        "csrf_token": {"type": "string", "description": "from the sign-in form"},
        "next_query": {"type": "string", "description": "dashboard filters to return to"},
    },
}
PAGE_FILTERS = DashboardFilters(unknown=EXCLUDE)
DEFAULT_DAYS = 90
FILTERS = ("from", "to", "product_id", "plan_id")
SESSION_KEY_LABEL = b"recur dashboard session cookie v1"
SESSION_LIFETIME = timedelta(hours=12)
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF",
                                     "XOF", "XPF"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")


def session_secret(admin_token: str) -> bytes:
    """Every gunicorn worker derives the same key from the shared admin token, so a cookie signed by one
    worker is valid in the others; without a token there is nothing shared, so the key is random."""
    if not admin_token:
        return secrets.token_bytes(32)
    return hmac.new(admin_token.encode(), SESSION_KEY_LABEL, hashlib.sha256).digest()


@bp.record_once
def configure_sessions(state: BlueprintSetupState) -> None:
    """Only this page uses Flask's session; the cookie is confined to /dashboard and never readable by scripts."""
    app = state.app
    app.secret_key = session_secret(app.extensions[EXTENSION].settings.admin_token)
    app.config.update(SESSION_COOKIE_NAME="recur_dashboard", SESSION_COOKIE_PATH="/dashboard", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME)


@bp.after_request
def protect_page(response: Response) -> Response:
    """The page shows private figures and inlines everything: nothing may be cached, framed or fetched."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def csrf_ok() -> bool:
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
    return bool(expected) and secrets.compare_digest(sent.encode(), str(expected).encode())


def filter_query(raw: str) -> str:
    """Only our own four parameters survive the sign-in round trip: the redirect can go nowhere else."""
    return urlencode([(k, v) for k, v in parse_qsl(raw) if k in FILTERS and v])


def cookie_will_be_dropped() -> bool:
    """Browsers keep a Secure cookie only over HTTPS or on loopback: say so rather than loop back to the form."""
    return not request.is_secure and request.host.rsplit(":", 1)[0].strip("[]") not in LOOPBACK_HOSTS


def sign_in_form(error: str | None, status: int) -> tuple[str, int]:
    query = request.query_string.decode("utf-8", "replace") or request.form.get("next_query", "")
    return render_template("dashboard/sign_in.html", error=error, csrf_token=csrf_token(), next_query=filter_query(query),
                           insecure=cookie_will_be_dropped()), status


@route(bp.post, "/dashboard/sign-in", TAG, "Sign in to the dashboard page with a producer's api_key", body=SIGN_IN_FORM,
       body_media=FORM, status=303, media=(),
       pages={401: "the sign-in form again, saying why: the api_key is not valid",
              403: "the sign-in form again: the CSRF token is missing or stale"})
def sign_in() -> Response | tuple[str, int]:
    if not csrf_ok():
        return sign_in_form("This form expired or was not sent by this page. Please sign in again.", 403)
    api_key = request.form.get("api_key", "").strip()
    producer = producer_for_api_key(services(), api_key) if api_key else None
    if producer is None:
        return sign_in_form("That API key is not valid. Copy the api_key you received when the producer was created.", 401)
    next_query = filter_query(request.form.get("next_query", ""))
    session.clear()  # a fresh session (and CSRF token) at every sign-in: nothing planted before it survives
    session.permanent = True
    session.update(producer_id=str(producer.id), producer_name=producer.name, csrf=secrets.token_urlsafe(32),
                   session_id=secrets.token_urlsafe(32))
    target = url_for(".cancellations") + (f"?{next_query}" if next_query else "")
    return redirect(target, 303)  # type: ignore[return-value]


@route(bp.post, "/dashboard/sign-out", TAG, "Sign out of the dashboard page", session=True,
       body={"type": "object", "properties": {"csrf_token": {"type": "string"}}}, body_media=FORM, status=303, media=(),
       pages={403: "a page saying the form was refused: the CSRF token is missing or stale"})
def sign_out() -> Response | tuple[str, int]:
    if not csrf_ok():
        return render_template("dashboard/refused.html"), 403
    if session.get("session_id"):
        end_session(services().db, str(session["session_id"]), SESSION_LIFETIME)
    session.clear()  # an emptied session makes Flask delete the cookie
    return redirect(url_for(".cancellations"), 303)  # type: ignore[return-value]


def signed_in_producer() -> str | None:
    """The producer of a live session; a session signed out (or from before sessions had ids) is cleared."""
    producer_id, session_id = session.get("producer_id"), session.get("session_id")
    if producer_id and session_id and not session_ended(services().db, str(session_id)):
        return str(producer_id)
    if producer_id:
        session.clear()
    return None


def catalog(producer_id: str) -> dict[str, list[tuple[str, str]]]:
    db = services().db
    return {"products": product_names(db, producer_id), "plans": plan_names(db, producer_id)}


def owned_filter(field: str, value: str | None, choices: list[tuple[str, str]]) -> str | None:
    if value is not None and value not in {c[0] for c in choices}:
        raise ApiError(422, "validation-error", "Invalid request", f"{field} is not one of yours")
    return value


def form_date(raw: str) -> str:
    """A date input only takes YYYY-MM-DD (browsers reject anything else): other text is left to the error message."""
    try:
        return date.fromisoformat(raw[:10]).isoformat() if raw else ""
    except ValueError:
        return ""


def money(amount: int, currency: str) -> str:
    """R$ 1.234,56 for reais, as Brazilian producers read it; CODE 1,234.56 for any other currency."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{currency} {amount:,}"
    text = f"{amount / 100:,.2f}"
    if currency == "BRL":
        return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{currency} {text}"


@route(bp.get, "/dashboard/cancellations", TAG, "The cancellation dashboard page (a sign-in form without a session)", session=True,
       media=("text/html",), query=DashboardFilters)
def cancellations() -> tuple[str, int]:
    producer_id = signed_in_producer()
    if not producer_id:
        return sign_in_form(None, 200)
    choices = catalog(producer_id)
    filters = {k: request.args.get(k, "") for k in FILTERS}
    filters.update({k: form_date(filters[k]) for k in ("from", "to")})
    context: dict[str, Any] = {"producer_name": session.get("producer_name", ""), "csrf_token": csrf_token(), "choices": choices,
                               "filters": filters, "default_days": DEFAULT_DAYS, "board": None, "error": None}
    try:  # the JSON endpoint's parameters and limits; only the default period differs: a page shows a quarter
        query = load_query(PAGE_FILTERS)
        start, end = period(query, services().clock.now(), default_days=DEFAULT_DAYS)
        product_id = owned_filter("product_id", query.get("product_id"), choices["products"])
        plan_id = owned_filter("plan_id", query.get("plan_id"), choices["plans"])
    except ApiError as error:
        return render_template("dashboard/cancellations.html", **{**context, "error": error.detail}), 422
    board = cancellation_dashboard(services().db, producer_id, start, end, product_id, plan_id)
    last_day = (end - timedelta(microseconds=1)).date()
    context["filters"].update({"from": start.date().isoformat(), "to": last_day.isoformat()})
    context.update(board=board, start=start, end=end, last_day=last_day)
    return render_template(
        "dashboard/cancellations.html", **context,
        ltv=money(board["ltv"]["amount"], board["ltv"]["currency"]),
        rate_chart=charts.monthly_rate_chart(board["monthly"]), origins_chart=charts.monthly_origins_chart(board["monthly"]),
    ), 200
