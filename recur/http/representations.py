"""What the API answers: one marshmallow schema per JSON shape, the only place each shape is written.

Routes dump what their views return through these schemas (recur/http/routes.py), and the OpenAPI document
publishes them: add a field here and it is served and documented. The schemas read the objects as they are:
aggregates (a subscription, a plan), read-model rows named by their query (recur/projections/queries), dataclasses
of the application (a history entry, a billing run). Where an answer composes values (money from an amount and the
currency beside it, a pending plan change from the pending terms and the period's end), a field says how.

Every field is published as required (the answer always holds the key, null when there is no value) unless its
metadata says `optional` (the key is left out when empty).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, missing, utils, validate

from recur.domain.subscription import ORIGINS
from recur.gateways.sandbox import OUTCOMES
from recur.http.schemas import PERIODICITIES

STATUSES = ["pending", "trialing", "active", "past_due", "inactive", "cancelled"]


# ---------------------------------------------------------------- fields that read the objects as they are
class Instant(fields.DateTime):
    """ISO 8601 with offset; a value some query already wrote as text is passed on."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class Day(fields.Date):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, datetime):
            value = value.date()
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class Composed(fields.Nested):
    """A nested object composed from the whole object being dumped (documented as the nested schema)."""

    def __init__(self, nested: type[Schema], compose: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self.compose = compose

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = missing) -> Any:
        return self.compose(obj)


def described(description: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The field's keyword arguments with the description folded into its metadata (where apispec reads it)."""
    metadata = {**kwargs.pop("metadata", {}), **({"description": description} if description else {})}
    return {**kwargs, "metadata": metadata}


def text(description: str = "", **kwargs: Any) -> fields.String:
    return fields.String(**described(description, kwargs))


def uuid(description: str = "", **kwargs: Any) -> fields.UUID:
    return fields.UUID(**described(description, kwargs))


def instant(description: str = "", **kwargs: Any) -> Instant:
    return Instant(**described(description, kwargs))


def day(description: str = "", **kwargs: Any) -> Day:
    return Day(**described(description, kwargs))


def nested(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    return fields.Nested(schema, **kwargs)


def version() -> fields.Integer:
    return fields.Integer(metadata={"description": "the aggregate's version: grows with every change; the ETag is this, quoted"})


def representation(cls: type[Schema]) -> type[Schema]:
    for declared in cls._declared_fields.values():
        declared.required = not declared.metadata.get("optional", False)
    return cls


# ---------------------------------------------------------------- money and catalog
@representation
class MoneyView(Schema):
    amount = fields.Integer(metadata={"description": "integer minor units (centavos for BRL)"})
    currency = text("ISO 4217 code, e.g. BRL")


def money_of(amount: str, currency: str, **kwargs: Any) -> Composed:
    """Money from an integer amount and the currency found beside it (dotted paths into the object)."""

    def compose(obj: Any) -> dict[str, Any] | None:
        value = utils.get_value(obj, amount)
        return None if value is None or value is missing else {"amount": value, "currency": utils.get_value(obj, currency)}

    return Composed(MoneyView, compose, **kwargs)


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


# ---------------------------------------------------------------- subscriptions
@representation
class SubscriberView(Schema):
    name = text()
    email = fields.Email()
    country = text("ISO 3166 alpha-2", allow_none=True, dump_default=None)


@representation
class PaymentMethodView(Schema):
    type = text(validate=validate.OneOf(["card", "boleto"]))
    brand = text("cards only", metadata={"optional": True})
    last4 = text("cards only", metadata={"optional": True})


@representation
class RetryView(Schema):
    attempt = fields.Integer()
    max_retries = fields.Integer()
    next_retry_at = instant(allow_none=True)
    window_ends_at = instant(allow_none=True)


@representation
class BoletoView(Schema):
    id = text()
    amount = nested(MoneyView)
    due_date = day()
    line = text("the digitable line to pay it with")


@representation
class PendingPlanChangeView(Schema):
    plan_id = uuid()
    offer_id = uuid(allow_none=True)
    price = nested(MoneyView)
    periodicity = text(validate=validate.OneOf(PERIODICITIES))
    effective_at = instant("the next renewal", allow_none=True)


def pending_plan_change(sub: Any) -> dict[str, Any] | None:
    terms = sub.pending_terms
    return None if terms is None else {**terms.as_dict(), "effective_at": sub.current_period_end}


@representation
class CancellationView(Schema):
    origin = text("from the credentials that cancelled: subscriber -> customer, producer -> seller", validate=validate.OneOf(ORIGINS))
    reason = text(allow_none=True)


class SubscriptionFields(Schema):
    """What a subscription and a subscription list item both say."""

    id = uuid()
    code = text("a short human-friendly code")
    status = text(validate=validate.OneOf(STATUSES))
    producer_id = uuid()
    product_id = uuid()
    plan_id = uuid()
    offer_id = uuid(allow_none=True)
    price = nested(MoneyView)
    periodicity = text(validate=validate.OneOf(PERIODICITIES))
    installments = fields.Integer()
    subscriber = nested(SubscriberView)
    payment_method = nested(PaymentMethodView)
    started_at = instant()
    trial_ends_at = instant(allow_none=True)
    paid_recurrences = fields.Integer()
    total_paid = money_of("total_paid", "price.currency")
    cancelled_at = instant(allow_none=True)
    cancellation = nested(CancellationView, allow_none=True)
    version = version()


@representation
class SubscriptionView(SubscriptionFields):
    current_period_start = instant(allow_none=True)
    current_period_end = instant(allow_none=True)
    next_charge_at = instant(allow_none=True)
    retry = nested(RetryView, allow_none=True)
    boleto = nested(BoletoView, allow_none=True, metadata={"description": "the open boleto, if any"})
    pending_plan_change = Composed(PendingPlanChangeView, pending_plan_change, allow_none=True)
    cancel_at = instant("a cancellation scheduled for the period end", allow_none=True)


@representation
class StartedSubscriptionView(SubscriptionView):
    subscriber_token = text("the subscriber's credential for this subscription only; returned only once")


@representation
class SubscriptionSummaryView(SubscriptionFields):
    """A list item: the read model's columns (no schedule details)."""

    updated_at = instant()


@representation
class ActorView(Schema):
    kind = text(validate=validate.OneOf(["admin", "producer", "subscriber", "system"]))
    id = text()


@representation
class EventView(Schema):
    version = fields.Integer()
    type = text("e.g. recur.subscription.ChargeSucceeded; the last dotted part is the event's name")
    occurred_at = instant("when it happened in the subscription's time")
    recorded_at = instant("when it was stored")
    actor = nested(ActorView, allow_none=True)
    request_id = text("the X-Request-Id of the request that caused it", allow_none=True)
    data = fields.Dict(metadata={"description": "the event's own fields"})


@representation
class ProblemView(Schema):
    type = text("a stable identifier of the kind of problem")
    title = text()
    status = fields.Integer()
    detail = text("what to do about it")
    errors = fields.Dict(metadata={"optional": True, "description": "invalid input only: field -> list of messages"})


# ---------------------------------------------------------------- reports and the dashboard
@representation
class OriginCountsView(Schema):
    customer = fields.Integer()
    admin = fields.Integer()
    seller = fields.Integer()


@representation
class DashboardMonthView(Schema):
    month = text("YYYY-MM")
    active_at_start = fields.Integer()
    cancellations = fields.Integer()
    rate = fields.Float()
    by_origin = nested(OriginCountsView)


@representation
class DashboardDayView(Schema):
    date = day()
    cancellations = fields.Integer()
    by_origin = nested(OriginCountsView)
    active = fields.Integer()


@representation
class DashboardView(Schema):
    from_ = instant(data_key="from", attribute="from")
    to = instant()
    cancellations = fields.Integer()
    cancellation_rate = fields.Float(metadata={"description": "cancellations in the period / subscriptions active at its start"})
    active_at_start = fields.Integer()
    by_origin = nested(OriginCountsView)
    monthly = fields.List(fields.Nested(DashboardMonthView))
    daily = fields.List(fields.Nested(DashboardDayView))
    lt_months = fields.Float(metadata={"description": "mean lifetime in months of the subscriptions cancelled in the period"})
    ltv = nested(MoneyView)
    avg_paid_recurrences = fields.Float()


@representation
class BuyerView(Schema):
    name = text()
    email = fields.Email()


@representation
class InstallmentNumberView(Schema):
    number = fields.Integer()
    total = fields.Integer()


@representation
class SaleView(Schema):
    transaction_id = text()
    subscription_id = uuid()
    created_at = instant()
    updated_at = instant()
    buyer = nested(BuyerView)
    product_id = uuid(allow_none=True)
    product_name = text(allow_none=True)
    plan_id = uuid()
    amount = nested(MoneyView)
    status = text(validate=validate.OneOf(["approved", "declined", "pending", "expired"]))
    decline_reason = text(allow_none=True)
    is_subscription = fields.Boolean()
    installment = nested(InstallmentNumberView)
    payment_method = text()


@representation
class SubscriptionReportItemView(Schema):
    subscription_id = uuid()
    code = text()
    subscriber = nested(BuyerView)
    product_id = uuid()
    plan_id = uuid()
    status = text(validate=validate.OneOf(STATUSES))
    created_at = instant()
    updated_at = instant()
    paid_recurrences = fields.Integer()
    total_paid = nested(MoneyView)
    cancelled_at = instant(allow_none=True)
    cancellation_origin = text(allow_none=True)


@representation
class InstallmentReportItemView(Schema):
    transaction_id = text()
    subscription_id = uuid()
    buyer = nested(BuyerView)
    product_id = uuid(allow_none=True)
    installment = nested(InstallmentNumberView)
    due_date = day()
    amount = nested(MoneyView)
    status = text()
    created_at = instant()


def page_of(item: type[Schema], name: str, **extra: fields.Field) -> type[Schema]:
    """Every list answers `{items, next_cursor}`; pass next_cursor back as `cursor` for the next page."""
    shape: dict[str, fields.Field] = {
        "items": fields.List(fields.Nested(item)),
        "next_cursor": text("null on the last page", allow_none=True),
        **extra,
    }
    return representation(Schema.from_dict(shape, name=name))


def columns(schema: type[Schema], prefix: str = "") -> list[str]:
    """A schema's fields as the dotted columns of a CSV or XLSX file, in declaration order."""
    names: list[str] = []
    for name, declared in schema._declared_fields.items():
        key = declared.data_key or name
        if isinstance(declared, fields.Nested) and isinstance(declared.nested, type):
            names.extend(columns(declared.nested, f"{prefix}{key}."))
        else:
            names.append(prefix + key)
    return names


ProductPageView = page_of(ProductSummaryView, "ProductPageView")
SubscriptionPageView = page_of(SubscriptionSummaryView, "SubscriptionPageView")
SalesReportView = page_of(SaleView, "SalesReportView", **{"from": instant(), "to": instant()})
SubscriptionsReportView = page_of(SubscriptionReportItemView, "SubscriptionsReportView", **{"from": instant(), "to": instant()})
InstallmentsReportView = page_of(InstallmentReportItemView, "InstallmentsReportView", **{"from": instant(), "to": instant()})
EventListView = representation(Schema.from_dict({"items": fields.List(fields.Nested(EventView))}, name="EventListView"))
BillingRunView = representation(Schema.from_dict(
    {"examined": fields.Integer(), "billed": fields.Integer(), "skipped_locked": fields.Integer(), "errors": fields.Integer()},
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
