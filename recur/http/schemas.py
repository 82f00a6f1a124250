"""Request schemas shared by several blueprints."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from recur.domain.money import MAX_MINOR_UNITS
from recur.http.fields import StrictBoolean, Text
from recur.http.iso_codes import check_currency
from recur.http.limits import MAX_CARD_TOKEN_LENGTH

PERIODICITIES = ["monthly", "bimonthly", "quarterly", "semiannual", "annual"]


class MoneySchema(Schema):
    amount = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_MINOR_UNITS, error=f"must be an integer of minor units from 1 to {MAX_MINOR_UNITS}"),
    )
    currency = Text(
        required=True,
        max_length=3,
        validate=check_currency,
        metadata={"description": "an ISO 4217 currency code, e.g. BRL", "pattern": "^[A-Z]{3}$"},
    )


class RetryPolicySchema(Schema):
    max_retries = fields.Integer(strict=True, validate=validate.Range(0, 10))
    window_days = fields.Integer(strict=True, validate=validate.Range(1, 60))
    reset_billing_date = StrictBoolean()


class PaymentMethodSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(["card", "boleto"]))
    card_token = Text(max_length=MAX_CARD_TOKEN_LENGTH, required_non_blank=True)

    @validates_schema
    def card_needs_token(self, data: dict[str, object], **_: object) -> None:
        if data.get("type") == "card" and not data.get("card_token"):
            raise ValidationError("required when type is card", "card_token")


def load(schema: Schema, payload: object) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["the body must be a JSON object"]})
    result: dict[str, object] = schema.load(payload)
    return result
