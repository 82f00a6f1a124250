"""The sandbox: test cards, outcome queues, boleto payments and the shared clock.

Mounted only with RECUR_SANDBOX=1; otherwise every path here is a 404. Card tokens are public, as a
buyer's browser makes them; everything else is for the admin: one clock and one bank serve every
tenant, and a paid boleto answers with its subscriber's name and e-mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from recur.commands.billing import pay_boleto
from recur.commands.clock import SystemClock
from recur.commands.gateway import UnknownCardTokenError
from recur.gateways.sandbox import OUTCOMES, InvalidCardNumberError, SandboxGateway
from recur.http.auth import public, require
from recur.http.conditional import created, tags_version, versioned
from recur.http.context import services
from recur.http.errors import ApiError, not_found
from recur.http.fields import StrictBoolean, Text
from recur.http.limits import LATEST_INSTANT, SANDBOX_CLOCK_HORIZON
from recur.http.request_deadline import allow_seconds
from recur.http.schemas import load
from recur.http.views import subscription_view
from recur.scheduler import advance_clock

bp = Blueprint("sandbox", __name__)


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


def sandbox_gateway() -> SandboxGateway:
    """Test cards and outcome queues exist only where the sandbox gateway is the one in use."""
    gateway = services().gateway
    if not isinstance(gateway, SandboxGateway):
        raise not_found()
    return gateway


def clock_horizon(real_now: datetime) -> datetime:
    """The furthest the shared clock may go: a decade past the real present, and never past the last
    instant the API accepts anywhere (the clock never goes back, so a target beyond it breaks the sandbox)."""
    return min(real_now + SANDBOX_CLOCK_HORIZON, LATEST_INSTANT)


def invalid_target(field: str, detail: str, message: str) -> ApiError:
    return ApiError(422, "validation-error", "Invalid request", detail, {field: [message]})


@bp.post("/v1/sandbox/card-tokens")
@public
@created("/v1/sandbox/card-tokens/{token}")
def create_card_token() -> tuple[dict[str, Any], int]:
    data = load(CardSchema(), request.get_json())
    try:
        card = sandbox_gateway().tokenize(str(data["number"]), int(data["exp_month"]), int(data["exp_year"]))  # type: ignore[call-overload]
    except InvalidCardNumberError as error:
        raise ApiError(422, "validation-error", "Invalid card", f"{error}: check the number", {"number": [str(error)]}) from None
    return {"token": card.token, "brand": card.brand, "last4": card.last4}, 201


@bp.get("/v1/sandbox/card-tokens/<token>")
def get_card_token(token: str) -> dict[str, Any]:
    """Read a test card's token: its brand and last 4 digits"""
    require("admin")
    try:
        card = sandbox_gateway().describe_token(token)
    except UnknownCardTokenError:
        raise not_found("card token") from None
    return {"token": card.token, "brand": card.brand, "last4": card.last4}


@bp.post("/v1/sandbox/card-tokens/<token>/outcomes")
@created("/v1/sandbox/card-tokens/{token}")
def queue_outcomes(token: str) -> tuple[dict[str, Any], int]:
    require("admin")
    data = load(OutcomesSchema(), request.get_json())
    try:
        sandbox_gateway().queue_outcomes(token, list(data["outcomes"]))  # type: ignore[call-overload]
    except UnknownCardTokenError:
        raise not_found("card token") from None
    return {"token": token, "queued": data["outcomes"]}, 201


@bp.post("/v1/sandbox/boletos/<boleto_id>/pay")
@tags_version
def pay(boleto_id: str) -> Response:
    require("admin")
    sub = pay_boleto(services(), boleto_id, {"kind": "system", "id": "bank", "request_id": ""})
    if sub is None:
        raise not_found("boleto")
    return versioned(subscription_view(sub), sub.version)


@bp.get("/v1/sandbox/clock")
def get_clock() -> dict[str, Any]:
    require("admin")
    return {"now": services().clock.now().isoformat()}


@bp.post("/v1/sandbox/clock/advance")
@allow_seconds(None)
def advance() -> dict[str, Any]:
    require("admin")
    data = load(AdvanceSchema(), request.get_json())
    s = services()
    now: datetime = s.clock.now()
    target = data.get("to") or now + timedelta(days=int(data.get("days", 0)), hours=int(data.get("hours", 0)))  # type: ignore[call-overload]
    field = "to" if "to" in data else "days" if "days" in data else "hours"
    if target < now:  # type: ignore[operator]
        raise invalid_target(field, "the sandbox clock only moves forward", f"must not be before {now.isoformat()}")
    horizon = clock_horizon(SystemClock().now())
    if target > horizon:  # type: ignore[operator]
        raise invalid_target(field, "the sandbox clock cannot go that far: it could never come back",
                             f"must not be after {horizon.isoformat()}")
    target = target.astimezone(UTC)  # type: ignore[attr-defined]
    if not data["run_due"]:
        # Only move time: due work waits for the scheduler, `POST /v1/billing/run` or `recur bill`.
        s.clock.set(target)
        return {"now": s.clock.now().isoformat(), "steps": 0}
    steps = advance_clock(s, target)  # type: ignore[arg-type]
    return {"now": s.clock.now().isoformat(), "steps": steps}
