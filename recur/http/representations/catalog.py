"""Producers, products, plans and offers as the API answers them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.http.representations.kit import MoneyView, instant, nested, page_of, representation, text, uuid, version
from recur.http.schemas import PERIODICITIES


@representation
class RetryPolicyView(Schema):
    max_retries = fields.Integer()
    window_days = fields.Integer()
    reset_billing_date = fields.Boolean()


@representation
class ProducerView(Schema):
    id = uuid()
    name = text()
    email = fields.Email()
    created_at = instant(attribute="created_on")
    version = version()


@representation
class RegisteredProducerView(ProducerView):
    api_key = text("the producer's credential; returned only once, keep it")


class ProductFields(Schema):
    id = uuid()
    producer_id = uuid()
    name = text()
    created_at = instant()


@representation
class ProductView(ProductFields):
    created_at = instant(attribute="created_on")
    version = version()


@representation
class ProductSummaryView(ProductFields):
    """A list item: the read model's columns."""


@representation
class PlanView(Schema):
    id = uuid()
    producer_id = uuid()
    product_id = uuid()
    name = text()
    periodicity = text(validate=validate.OneOf(PERIODICITIES))
    price = nested(MoneyView)
    trial_days = fields.Integer()
    max_installments = fields.Integer()
    retry_policy = nested(RetryPolicyView)
    renewal_reminder_days = fields.Integer(allow_none=True)
    version = version()


@representation
class OfferView(Schema):
    id = uuid()
    plan_id = uuid()
    name = text()
    price = nested(MoneyView)
    version = version()


ProductPageView = page_of(ProductSummaryView, "ProductPageView")
