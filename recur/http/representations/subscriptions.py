"""A subscription, its list items and its audit trail as the API answers them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from recur.domain.subscription import ORIGINS
from recur.http.representations.kit import (
    STATUSES,
    Composed,
    MoneyView,
    day,
    instant,
    money_of,
    nested,
    page_of,
    representation,
    text,
    uuid,
    version,
)
from recur.http.schemas import PERIODICITIES


# ---------------------------------------------------------------- subscriptions
@representation
class SubscriberView(Schema):
    """Personal data: each field is null once the subscriber is erased (`erased`)."""

    name = text("null once erased", allow_none=True)
    # idn-email, not email: the API now refuses a mailbox name beyond ASCII (plain SMTP cannot carry it), but subscriptions
    # started before that keep the address they were given, and are answered with it.
    email = text("the subscriber's e-mail address; null once erased", allow_none=True, metadata={"format": "idn-email"})
    country = text("ISO 3166 alpha-2", allow_none=True, dump_default=None)


@representation
class PaymentMethodView(Schema):
    type = text(validate=validate.OneOf(["card", "boleto"]))
    brand = text("cards only; null once erased", allow_none=True, metadata={"optional": True})
    last4 = text("cards only; null once erased", allow_none=True, metadata={"optional": True})


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
    total_paid = money_of("total_paid", "price.currency", metadata={
        "description": "approved charges less what went back to the buyer (refunds and lost disputes)"})
    total_refunded = money_of("total_refunded", "price.currency", metadata={
        "description": "what went back to the buyer: refunds and lost disputes"})
    cancelled_at = instant(allow_none=True)
    cancellation = nested(CancellationView, allow_none=True)
    erased = fields.Boolean(metadata={"description": "the subscriber's personal data was erased (POST /v1/erasures): "
                                      "name, e-mail, country and card brand/last4 read null; amounts, dates and statuses stay"})
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
    occurred_at = instant("when it happened in the aggregate's own time (a subscription's may be the sandbox clock's)")
    recorded_at = instant("when it was stored")
    actor = nested(ActorView, allow_none=True)
    request_id = text("the X-Request-Id of the request that caused it", allow_none=True)
    data = fields.Dict(metadata={"description": "the event's own fields"})
    erased = fields.Boolean(metadata={"description": "this event carried personal data that was erased since: those fields read null"})


SubscriptionPageView = page_of(SubscriptionSummaryView, "SubscriptionPageView")
EventListView = representation(Schema.from_dict({"items": fields.List(fields.Nested(EventView))}, name="EventListView"))
