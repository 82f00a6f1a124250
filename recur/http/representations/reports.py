"""Reports and the cancellation dashboard as the API answers them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from recur.http.representations.kit import STATUSES, MoneyView, day, instant, nested, page_of, representation, text, uuid

SALE_STATUSES = ["approved", "declined", "pending", "expired", "refunded", "partially_refunded", "disputed"]


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
    status = text("refunded, partially_refunded: see refunded_amount; disputed: a dispute is open or was lost",
                  validate=validate.OneOf(SALE_STATUSES))
    decline_reason = text(allow_none=True)
    is_subscription = fields.Boolean()
    installment = nested(InstallmentNumberView)
    payment_method = text()
    refunded_amount = nested(MoneyView, metadata={"description": "what went back to the buyer: refunds and a lost dispute"})
    dispute_status = text("the charge's dispute, if any", allow_none=True, validate=validate.OneOf(["open", "won", "lost"]))


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
    total_paid = nested(MoneyView, metadata={"description": "approved charges less refunds and lost disputes"})
    total_refunded = nested(MoneyView, metadata={"description": "refunds and lost disputes"})
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


SalesReportView = page_of(SaleView, "SalesReportView", **{"from": instant(), "to": instant()})
SubscriptionsReportView = page_of(SubscriptionReportItemView, "SubscriptionsReportView", **{"from": instant(), "to": instant()})
InstallmentsReportView = page_of(InstallmentReportItemView, "InstallmentsReportView", **{"from": instant(), "to": instant()})
