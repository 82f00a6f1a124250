"""Problems, operations and the sandbox as the API answers them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.commands.sandbox_test_cards import OUTCOMES
from recur.http.representations.kit import instant, representation, text


@representation
class ProblemView(Schema):
    type = text("a stable identifier of the kind of problem")
    title = text()
    status = fields.Integer()
    detail = text("what to do about it")
    errors = fields.Dict(metadata={"optional": True, "description": "invalid input only: field -> list of messages"})


BillingRunView = representation(Schema.from_dict(
    {"examined": fields.Integer(), "billed": fields.Integer(),
     "reports": fields.Integer(metadata={"description": "report periods e-mailed"}), "skipped_locked": fields.Integer(),
     "errors": fields.Integer(),
     "charges": fields.Integer(metadata={"description": "gateway answers recorded (approved, refused, boleto issued)"}),
     "in_flight": fields.Integer(metadata={"description": "charges left awaiting the gateway's answer, settled by a later run"})},
    name="BillingRunView"))
HealthView = representation(Schema.from_dict({"status": text()}, name="HealthView"))
ReadinessView = representation(Schema.from_dict(
    {"status": text(), "checks": fields.Dict(keys=fields.String(), values=fields.String())}, name="ReadinessView"))
CardTokenView = representation(Schema.from_dict({"token": text(), "brand": text(), "last4": text()}, name="CardTokenView"))
QueuedOutcomesView = representation(Schema.from_dict(
    {"token": text(), "queued": fields.List(fields.String(validate=validate.OneOf(sorted(OUTCOMES))))}, name="QueuedOutcomesView"))
ClockView = representation(Schema.from_dict({"now": instant()}, name="ClockView"))
ClockAdvancedView = representation(Schema.from_dict(
    {"now": instant(), "steps": fields.Integer(metadata={"description": "how many due items ran"})}, name="ClockAdvancedView"))
