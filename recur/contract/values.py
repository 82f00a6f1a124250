"""Value objects that public events carry: money, plan terms, retry policy, subscriber, payment method.

A key the domain keeps in one of these dicts but that is not declared here is never published (the
gateway's card `token` in a payment method, say): the schema decides what leaves, not the dict.
"""

from __future__ import annotations

from marshmallow import fields

from recur.contract.fields import PublicSchema, boolean, choice, currency, integer, minor_units, nested, text
from recur.domain.calendar import PERIOD_MONTHS
from recur.domain.subscription import ORIGINS

STATUSES = ("pending", "trialing", "active", "past_due", "inactive", "cancelled")
PAYMENT_METHODS = ("card", "boleto")
MAX_INSTALLMENTS = max(PERIOD_MONTHS.values())


def periodicity(description: str = "How often the plan renews.") -> fields.String:
    return choice(PERIOD_MONTHS, description)


def origin() -> fields.String:
    return choice(ORIGINS, "Who cancelled: customer = the subscriber, seller = the producer, admin = the platform.")


class Money(PublicSchema):
    """An amount of money: integer minor units and an ISO 4217 currency."""

    amount = minor_units()
    currency = currency("ISO 4217 code.")


class RetryPolicy(PublicSchema):
    """How refused charges are retried: up to `max_retries` retries spread evenly over `window_days` after the
    first refusal."""

    max_retries = integer("Retries after a refused charge.", minimum=0, maximum=10)
    window_days = integer("Days after the first refusal within which every retry falls.", minimum=1, maximum=60)
    reset_billing_date = boolean("A charge that succeeds on a retry moves the billing date to that day.")


class PlanTerms(PublicSchema):
    """What a subscription locked from the catalog when it started or changed plan."""

    plan_id = text("The plan.")
    offer_id = text("The offer whose price was taken; null for the plan's own price.", nullable=True)
    price = nested(Money, "Price of one cycle.")
    periodicity = periodicity()
    installments = integer("Monthly charges the cycle price is split into (1 = paid at once).", minimum=1, maximum=MAX_INSTALLMENTS)
    retry_policy = nested(RetryPolicy, "How refused charges are retried.")
    renewal_reminder_days = integer("Days before each renewal charge that the subscriber is reminded; null: no reminder.",
                                    minimum=1, maximum=60, nullable=True)


class Subscriber(PublicSchema):
    """The subscriber's personal data, in dedicated fields so that it can be erased per person."""

    name = text("Full name.", personal=True)
    email = text("E-mail address.", fmt="email", personal=True)
    country = text("ISO 3166-1 alpha-2 code; null when not given.", personal=True)


class PaymentMethod(PublicSchema):
    """How the subscriber pays. The gateway's card token is never published: only brand and last 4 digits."""

    type = choice(PAYMENT_METHODS, "card or boleto.")
    brand = text("Card brand (visa, mastercard, ...); cards only.", required=False, personal=True)
    last4 = text("Last 4 digits of the card; cards only.", required=False, pattern="^[0-9]{4}$", personal=True)
