"""Request schemas shared by several blueprints."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

PERIODICITIES = ["monthly", "bimonthly", "quarterly", "semiannual", "annual"]


class MoneySchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, error="must be a positive integer of minor units"))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code such as BRL"))


class RetryPolicySchema(Schema):
    max_retries = fields.Integer(strict=True, validate=validate.Range(0, 10))
    window_days = fields.Integer(strict=True, validate=validate.Range(1, 60))
    reset_billing_date = fields.Boolean()


class PaymentMethodSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["card", "boleto"]))
    card_token = fields.String(validate=validate.Length(min=1, max=100))

    @validates_schema
    def card_needs_token(self, data: dict[str, object], **_: object) -> None:
        if data.get("type") == "card" and not data.get("card_token"):
            raise ValidationError("required when type is card", "card_token")


def load(schema: Schema, payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["the body must be a JSON object"]})
    result: dict[str, object] = schema.load(payload)
    return result
