"""The sandbox: test cards, outcome queues, boleto payments, the shared clock and the outbox.

Mounted only with RECUR_SANDBOX=1; otherwise every path here is a 404. Card tokens are public, as a
buyer's browser makes them; everything else is for the admin: one clock and one bank serve every
tenant, a paid boleto answers with its subscriber's name and e-mail, and the outbox holds every
tenant's mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from recur.commands.billing import pay_boleto
from recur.commands.clock import SystemClock
from recur.commands.gateway import CardToken, UnknownCardTokenError
from recur.commands.sandbox_test_cards import OUTCOMES, TEST_CARDS, InvalidCardNumberError, SandboxCards
from recur.domain.subscription import Subscription
from recur.http.context import services
from recur.http.errors import ApiError, not_found
from recur.http.fields import StrictBoolean, Text
from recur.http.limits import LATEST_INSTANT, SANDBOX_CLOCK_HORIZON
from recur.http.pagination import encode_cursor
from recur.http.query import MAX_BIGINT, SERIAL, OutboxQuery
from recur.http.representations.mailbox import ReceivedEmailPageView, ReceivedEmailWithBodiesView
from recur.http.representations.operations import CardTokenView, ClockAdvancedView, ClockView, QueuedOutcomesView
from recur.http.representations.subscriptions import SubscriptionView
from recur.http.request_deadline import allow_seconds
from recur.http.routes import ADMIN, route
from recur.projections.queries import mailbox
from recur.scheduler import advance_clock

bp = Blueprint("sandbox", __name__)
TAG = "Sandbox"


class CardSchema(Schema):
    number = Text(required=True, max_length=23, validate=validate.Regexp(r"^[0-9 ]{12,23}$", error="must be 12 to 19 digits"))
    exp_month = fields.Integer(required=True, strict=True, validate=validate.Range(1, 12))
    exp_year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2100))
    cvc = Text(required=True, max_length=4, validate=validate.Regexp(r"^[0-9]{3,4}$", error="must be 3 or 4 digits"))


class OutcomesSchema(Schema):
    outcomes = fields.List(
        fields.String(validate=validate.OneOf(sorted(OUTCOMES))), required=True, validate=validate.Length(min=1, max=100)
    )


class AdvanceSchema(Schema):
    days = fields.Integer(strict=True, validate=validate.Range(0, 3660))
    hours = fields.Integer(strict=True, validate=validate.Range(0, 24 * 3660))
    to = fields.AwareDateTime(default_timezone=UTC)
    run_due = StrictBoolean(load_default=True)

    @validates_schema
    def one_target(self, data: dict[str, Any], **_: Any) -> None:
        if not {"days", "hours", "to"} & set(data):
            raise ValidationError("give days, hours or to", "days")
        if "to" in data and ("days" in data or "hours" in data):
            raise ValidationError("give either to, or days/hours", "to")


def sandbox_gateway() -> SandboxCards:
    """Test cards and outcome queues exist only where the sandbox gateway is the one in use."""
    gateway = services().gateway
    if not isinstance(gateway, SandboxCards):
        raise not_found()
    return gateway


def clock_horizon(real_now: datetime) -> datetime:
    """The furthest the shared clock may go: a decade past the real present, and never past the last
    instant the API accepts anywhere (the clock never goes back, so a target beyond it breaks the sandbox)."""
    return min(real_now + SANDBOX_CLOCK_HORIZON, LATEST_INSTANT)


def invalid_target(field: str, detail: str, message: str) -> ApiError:
    return ApiError(422, "validation-error", "Invalid request", detail, {field: [message]})


@route(bp.post, "/v1/sandbox/card-tokens", TAG, "Tokenize a test card (no credentials: a buyer's browser calls it)", body=CardSchema,
       response=CardTokenView, status=201, location="/v1/sandbox/card-tokens/{token}",
       description="; ".join(f"{number}: {outcome}" for number, outcome in TEST_CARDS.items())
       + "; other numbers passing Luhn approve; failing Luhn is a 422.")
def create_card_token(body: dict[str, Any]) -> CardToken:
    try:
        return sandbox_gateway().tokenize(str(body["number"]), int(body["exp_month"]), int(body["exp_year"]))
    except InvalidCardNumberError as error:
        raise ApiError(422, "validation-error", "Invalid card", f"{error}: check the number", {"number": [str(error)]}) from None


@route(bp.get, "/v1/sandbox/card-tokens/<token>", TAG, "Read a test card's token: its brand and last 4 digits", roles=ADMIN,
       response=CardTokenView)
def get_card_token(token: str) -> CardToken:
    try:
        return sandbox_gateway().describe_token(token)
    except UnknownCardTokenError:
        raise not_found("card token") from None


@route(bp.post, "/v1/sandbox/card-tokens/<token>/outcomes", TAG, "Queue the results of a test card's next charges", roles=ADMIN,
       body=OutcomesSchema, response=QueuedOutcomesView, status=201, location="/v1/sandbox/card-tokens/{token}")
def queue_outcomes(token: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        sandbox_gateway().queue_outcomes(token, list(body["outcomes"]))
    except UnknownCardTokenError:
        raise not_found("card token") from None
    return {"token": token, "queued": body["outcomes"]}


@route(bp.post, "/v1/sandbox/boletos/<boleto_id>/pay", TAG, "The bank reports a boleto paid", roles=ADMIN, response=SubscriptionView,
       etag=True)
def pay(boleto_id: str) -> Subscription:
    sub = pay_boleto(services(), boleto_id, {"kind": "system", "id": "bank", "request_id": ""})
    if sub is None:
        raise not_found("boleto")
    return sub


@route(bp.get, "/v1/sandbox/clock", TAG, "The sandbox clock", roles=ADMIN, response=ClockView)
def get_clock() -> dict[str, Any]:
    return {"now": services().clock.now()}


@route(bp.post, "/v1/sandbox/clock/advance", TAG, "Move the sandbox clock forward and run everything that fell due", roles=ADMIN,
       body=AdvanceSchema, response=ClockAdvancedView,
       description="Runs, in time order, trial ends, charges, retries, boleto expiries, scheduled cancellations, renewal "
       "reminders and trial-ending notices, the reports of report schedules whose period ended, and webhook delivery "
       "attempts (each retry at its own instant; a step waits for the receivers' answers); returns when the read "
       "models and the notifier have caught up (the e-mails decided, the sender then hands them to the SMTP server). One "
       "clock serves every tenant; it never goes back, nor further than ten years past the real present (and never past 2100).")
@allow_seconds(None)
def advance(body: dict[str, Any]) -> dict[str, Any]:
    ports = services()
    now: datetime = ports.clock.now()
    target = body.get("to") or now + timedelta(days=int(body.get("days", 0)), hours=int(body.get("hours", 0)))
    field = "to" if "to" in body else "days" if "days" in body else "hours"
    if target < now:
        raise invalid_target(field, "the sandbox clock only moves forward", f"must not be before {now.isoformat()}")
    horizon = clock_horizon(SystemClock().now())
    if target > horizon:
        raise invalid_target(field, "the sandbox clock cannot go that far: it could never come back",
                             f"must not be after {horizon.isoformat()}")
    target = target.astimezone(UTC)
    if not body["run_due"]:
        # Only move time: due work waits for the scheduler, `POST /v1/billing/run` or `recur bill`.
        ports.clock.set(target)
        return {"now": ports.clock.now(), "steps": 0}
    steps = advance_clock(ports, target)
    return {"now": ports.clock.now(), "steps": steps}


OUTBOX = ("What the local SMTP sink received: `recur up` runs one when RECUR_SMTP_URL is not set and gives its address to "
          "the processes it starts as their SMTP server. With RECUR_SMTP_URL set, mail goes to that server instead and is not "
          "listed here. A message to several recipients is one item, with all of them in `to`.")


@route(bp.get, "/v1/sandbox/outbox/emails", TAG, "List the e-mails the local SMTP sink received", roles=ADMIN, query=OutboxQuery,
       response=ReceivedEmailPageView, description=OUTBOX + " Newest first (by arrival); `to` and `kind` narrow the list.")
def list_emails(query: dict[str, Any]) -> dict[str, Any]:
    page = mailbox.list_received(services().db, query.get("to"), query.get("kind"), query.get("cursor"), query["limit"])
    return {"items": page.rows, "next_cursor": encode_cursor(*page.next_after) if page.next_after else None}


@route(bp.get, "/v1/sandbox/outbox/emails/<email_id>", TAG, "Read an e-mail the local SMTP sink received, with its text and HTML",
       roles=ADMIN, response=ReceivedEmailWithBodiesView, description=OUTBOX)
def get_email(email_id: str) -> dict[str, Any]:
    found = mailbox.received(services().db, int(email_id)) if SERIAL.fullmatch(email_id) and int(email_id) <= MAX_BIGINT else None
    if found is None:
        raise not_found("e-mail")
    return found
