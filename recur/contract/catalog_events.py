"""Public data of the catalog's events (topic recur.catalog.v1): producers, products, plans, offers, report schedules,
webhook endpoints.

Fields are declared in the order of the internal event class, which is the order of the published JSON.
"""

from __future__ import annotations

from marshmallow import fields

from recur.contract.fields import PublicSchema, choice, instant, integer, nested, text, texts
from recur.contract.registry import CONTRACT
from recur.contract.values import MAX_INSTALLMENTS, Money, RetryPolicy, periodicity
from recur.domain.catalog import Offer, Plan, Producer, Product
from recur.domain.reporting import FORMATS, FREQUENCIES, REPORTS, ReportSchedule
from recur.domain.webhooks import DISABLED_REASONS, WebhookEndpoint


def _reminder(required: bool = True) -> fields.Integer:
    return integer("Days before each renewal charge that subscribers are reminded by e-mail; null: no reminder.",
                   minimum=1, maximum=60, nullable=True, required=required)


@CONTRACT.declare(Producer.ProducerRegistered, version=1,
                  private={"api_key_hash": "a hash of the producer's API key: a credential"})
class ProducerRegisteredData(PublicSchema):
    """An admin registered a producer (seller). Its API key is never published."""

    name = text("The producer's name (personal data).")
    email = text("The producer's e-mail address (personal data).", fmt="email")


@CONTRACT.declare(Product.ProductCreated, version=1)
class ProductCreatedData(PublicSchema):
    """A producer created a product."""

    producer_id = text("The producer (seller) it belongs to.")
    name = text("The product's name.")


@CONTRACT.declare(Plan.PlanCreated, version=1)
class PlanCreatedData(PublicSchema):
    """A plan of a product: price, periodicity, trial, installments, retry policy, reminder."""

    producer_id = text("The producer (seller) it belongs to.")
    product_id = text("The product it sells.")
    name = text("The plan's name.")
    periodicity = periodicity()
    price = nested(Money, "Price of one cycle.")
    trial_days = integer("Free days before the first charge (0: none).", minimum=0)
    max_installments = integer("Most monthly installments a subscriber may split a cycle into.", minimum=1, maximum=MAX_INSTALLMENTS)
    retry_policy = nested(RetryPolicy, "How refused charges are retried.")
    renewal_reminder_days = _reminder()


class PlanChanges(PublicSchema):
    """Only the fields whose value changed, with their new value."""

    name = text("The plan's new name.", required=False)
    price = nested(Money, "The new price of one cycle.", required=False)
    retry_policy = nested(RetryPolicy, "The new retry policy.", required=False)
    renewal_reminder_days = _reminder(required=False)


@CONTRACT.declare(Plan.PlanRevised, version=1)
class PlanRevisedData(PublicSchema):
    """A plan's name, price, retry policy or reminder changed; for subscriptions started afterwards only."""

    changes = nested(PlanChanges, "Only the changed fields, with their new values.")


@CONTRACT.declare(Offer.OfferCreated, version=1)
class OfferCreatedData(PublicSchema):
    """An alternative price for a plan (a launch discount, say)."""

    producer_id = text("The producer (seller) it belongs to.")
    plan_id = text("The plan it offers another price for.")
    name = text("The offer's name.")
    price = nested(Money, "Price of one cycle with this offer.")


class OfferChanges(PublicSchema):
    """Only the fields whose value changed, with their new value."""

    name = text("The offer's new name.", required=False)
    price = nested(Money, "The new price of one cycle.", required=False)


@CONTRACT.declare(Offer.OfferRevised, version=1)
class OfferRevisedData(PublicSchema):
    """An offer's name or price changed; for subscriptions started afterwards only."""

    changes = nested(OfferChanges, "Only the changed fields, with their new values.")


@CONTRACT.declare(ReportSchedule.ReportScheduleCreated, version=1)
class ReportScheduleCreatedData(PublicSchema):
    """A producer asked for a report to be e-mailed after each period (the period just ended, in `time_zone`)."""

    producer_id = text("The producer (seller) it belongs to.")
    report = choice(REPORTS, "Which report: sales, subscriptions or installments.")
    frequency = choice(FREQUENCIES, "How long each period is: a day, a week (Monday to Sunday) or a calendar month.")
    recipients = texts("Who receives it: 1 to 20 distinct e-mail addresses of the producer's staff (personal data).", fmt="email")
    format = choice(FORMATS, "The attached file's format.")
    time_zone = text("IANA time zone the periods are counted in (UTC unless the producer chose one).")
    created_at = instant("When it was created (the clock's time): the first report is of the period this instant falls in.")


@CONTRACT.declare(ReportSchedule.ReportScheduleDeleted, version=1)
class ReportScheduleDeletedData(PublicSchema):
    """The producer deleted a report schedule: nothing more is sent for it, not even the period under way."""

    at = instant("When it was deleted (the clock's time).")


SECRET_ID = "Id of the signing secret (the secret itself is never published: recur keeps it sealed)."
EVENT_TYPES = ("The webhook types it receives (`subscription.<event name in snake_case>`); empty: every type, "
               "including types added later.")


def _description(required: bool = True) -> fields.String:
    return text("The producer's note about the endpoint (null: none).", nullable=True, required=required)


@CONTRACT.declare(WebhookEndpoint.WebhookEndpointCreated, version=1)
class WebhookEndpointCreatedData(PublicSchema):
    """A producer registered a URL to receive its subscriptions' events as signed webhooks."""

    producer_id = text("The producer (seller) it belongs to.")
    url = text("Where deliveries are POSTed.", fmt="uri")
    event_types = texts(EVENT_TYPES)
    description = _description()
    secret_id = text(SECRET_ID)
    created_at = instant("When it was created (the clock's time): it receives the events recorded after it.")


class WebhookEndpointChanges(PublicSchema):
    """Only the fields whose value changed, with their new value."""

    url = text("The new URL.", required=False, fmt="uri")
    event_types = fields.List(fields.String(), required=False, metadata={"description": EVENT_TYPES})
    description = _description(required=False)


@CONTRACT.declare(WebhookEndpoint.WebhookEndpointUpdated, version=1)
class WebhookEndpointUpdatedData(PublicSchema):
    """A webhook endpoint's URL, event types or description changed; events recorded afterwards follow the new values."""

    changes = nested(WebhookEndpointChanges, "Only the changed fields, with their new values.")
    at = instant("When it changed (the clock's time).")


@CONTRACT.declare(WebhookEndpoint.WebhookSecretRotated, version=1)
class WebhookSecretRotatedData(PublicSchema):
    """The endpoint's signing secret was replaced; deliveries carry signatures of both secrets until `previous_valid_until`."""

    secret_id = text(SECRET_ID)
    previous_secret_id = text("Id of the secret it replaced.")
    previous_valid_until = instant("Until when deliveries are also signed with the previous secret (24 hours after the rotation).")
    at = instant("When it was rotated (the clock's time).")


@CONTRACT.declare(WebhookEndpoint.WebhookEndpointEnabled, version=1)
class WebhookEndpointEnabledData(PublicSchema):
    """A disabled webhook endpoint was enabled again: it receives the events recorded from now on."""

    at = instant("When it was enabled (the clock's time).")


@CONTRACT.declare(WebhookEndpoint.WebhookEndpointDisabled, version=1)
class WebhookEndpointDisabledData(PublicSchema):
    """A webhook endpoint was disabled: by its producer, or by recur after its deliveries failed for 5 days (its producer
    is then told by e-mail). It receives nothing until enabled again."""

    reason = choice(DISABLED_REASONS, "`producer`: its producer disabled it; `failing`: recur did, after 5 days of failed deliveries.")
    failing_since = instant("When the failures began (null unless `reason` is `failing`).", nullable=True)
    at = instant("When it was disabled (the clock's time).")


@CONTRACT.declare(WebhookEndpoint.WebhookEndpointDeleted, version=1)
class WebhookEndpointDeletedData(PublicSchema):
    """The producer deleted a webhook endpoint: nothing more is sent to it."""

    at = instant("When it was deleted (the clock's time).")
