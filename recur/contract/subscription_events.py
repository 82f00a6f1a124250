"""Public data of the subscription's events (topic recur.subscriptions.v1).

Fields are declared in the order of the internal event class, which is the order of the published JSON.
A schema's docstring is the event's meaning in the documents; its first sentence is the summary.
"""

from __future__ import annotations

from marshmallow import fields

from recur.contract.fields import PublicSchema, boolean, choice, currency, instant, integer, minor_units, nested, text
from recur.contract.registry import CONTRACT
from recur.contract.values import MAX_INSTALLMENTS, PAYMENT_METHODS, PaymentMethod, PlanTerms, Subscriber
from recur.domain.retry import HARD_DECLINES
from recur.domain.subscription import Subscription

KEY = "Idempotency key of the charge attempt at the gateway: `<subscription_id>:c<cycle>:i<installment>:a<attempt>`."


def charge_cycle() -> fields.Integer:
    return integer("Billing cycle (1 = the first paid period).", minimum=1)


def charge_installment() -> fields.Integer:
    return integer("Which installment of the cycle (1-based).", minimum=1, maximum=MAX_INSTALLMENTS)


def charge_installments() -> fields.Integer:
    return integer("Installments of the cycle (1 = paid at once).", minimum=1, maximum=MAX_INSTALLMENTS)


def _at(description: str = "When it happened (the sandbox clock's time in the sandbox).") -> fields.DateTime:
    return instant(description)


@CONTRACT.declare(Subscription.SubscriptionStarted, version=1, status_after="pending",
                  private={"subscriber_token_hash": "a hash of the subscriber's secret token: a credential"})
class SubscriptionStartedData(PublicSchema):
    """A producer created the subscription; the plan's price and rules are locked into `terms`.

    When the plan has a trial, TrialStarted follows at once; otherwise the first charge is attempted."""

    code = text("Human-friendly subscription code (SUB-XXXXXXXX).")
    producer_id = text("The producer (seller) the subscription belongs to.")
    product_id = text("The product subscribed to.")
    terms = nested(PlanTerms, "The plan's terms, locked for this subscription.")
    subscriber = nested(Subscriber, "Who subscribed (personal data).")
    payment_method = nested(PaymentMethod, "How the subscriber pays.")
    started_at = instant("When the subscription started.")
    first_charge_at = instant("When the first charge is due (the trial's end, or `started_at`).")


@CONTRACT.declare(Subscription.TrialStarted, version=1, status_after="trialing")
class TrialStartedData(PublicSchema):
    """The plan has a trial: nothing is charged until it ends."""

    trial_ends_at = instant("When the trial ends and the first charge is due.")
    at = _at()


@CONTRACT.declare(Subscription.ChargeAttempted, version=2)
class ChargeAttemptedData(PublicSchema):
    """An installment is about to be charged; recorded before the gateway is called, so it is never charged twice."""

    key = text(KEY)
    plan_id = text("The plan whose terms price this charge (the new plan when a plan change takes effect with this cycle); "
                   "null on events recorded before version 2.", nullable=True, since=2)
    due_at = instant("When the installment fell due (`at` is when it was attempted); equal to `at` on events recorded "
                     "before version 2.", since=2)
    cycle = charge_cycle()
    installment = charge_installment()
    installments = charge_installments()
    amount = minor_units()
    currency = currency()
    method = choice(PAYMENT_METHODS, "How it is charged: card or boleto.")
    attempt = integer("Attempt on this installment (1 = first try, then retries).", minimum=1)
    is_retry = boolean("A retry of a refused installment.")
    reprocess = boolean("Started by `POST /v1/subscriptions/{id}/reprocess`.")
    at = _at("When the charge was attempted.")


@CONTRACT.declare(Subscription.ChargeSucceeded, version=2, status_after="active (stays cancelled if cancelled meanwhile)")
class ChargeSucceededData(PublicSchema):
    """One approved charge: one per installment, retries and paid boletos included."""

    key = text(KEY)
    gateway_charge_id = text("The gateway's id of the charge; `boleto:<boleto_id>` for a paid boleto.")
    cycle = charge_cycle()
    installment = charge_installment()
    installments = charge_installments()
    amount = minor_units()
    currency = currency()
    method = choice(PAYMENT_METHODS, "How it was paid: card or boleto.")
    new_terms = nested(PlanTerms, "The terms of a plan change taking effect with this new cycle; null otherwise.", nullable=True)
    anchor = instant("Billing anchor after this charge (internal billing-date arithmetic).")
    cycle_offset = integer("Months from the anchor to the current cycle's start (internal billing-date arithmetic).")
    period_start = instant("Start of the paid period after this charge; null on events recorded before version 2 "
                           "(derive it from `anchor` + `cycle_offset` months).", nullable=True, since=2)
    status = choice(("active", "cancelled"), "Status after the charge.")
    at = _at("When the gateway approved (for a boleto, when the bank reported it paid).")


@CONTRACT.declare(Subscription.ChargeFailed, version=1,
                  status_after="past_due (pending if the first charge never succeeded; inactive or cancelled stay)")
class ChargeFailedData(PublicSchema):
    """One refused charge, retries included."""

    key = text(KEY)
    cycle = charge_cycle()
    installment = charge_installment()
    installments = charge_installments()
    amount = minor_units()
    currency = currency()
    method = choice(PAYMENT_METHODS, "How it was charged: card or boleto.")
    reason = text("The gateway's decline code, e.g. card_declined, insufficient_funds, do_not_honor, processing_error; "
                  f"hard declines: {', '.join(sorted(HARD_DECLINES))}.")
    hard_decline = boolean("No retry can fix it: retries wait for a new payment method.")
    status = choice(("pending", "past_due", "inactive", "cancelled"), "Status after the refusal.")
    at = _at("When the gateway refused.")


@CONTRACT.declare(Subscription.RetryScheduled, version=1, status_after="— (past_due, or pending before any successful charge)")
class RetryScheduledData(PublicSchema):
    """The refused installment will be retried; after a hard decline, as soon as a new payment method arrives."""

    attempt = integer("Number of the retry scheduled (1..max_retries).", minimum=1)
    max_retries = integer("Retries the plan allows.", minimum=0, maximum=10)
    next_retry_at = instant("When the retry runs; null while waiting for a new payment method (hard decline).", nullable=True)
    first_refusal_at = instant("When the installment was first refused.")
    window_ends_at = instant("No retry after this instant: billing stops (RetriesExhausted) if still unpaid.")
    waiting_for_new_payment_method = boolean("A hard decline: the retry waits for a new card.")
    at = _at()


@CONTRACT.declare(Subscription.RetriesExhausted, version=1, status_after="inactive")
class RetriesExhaustedData(PublicSchema):
    """The last retry was refused or the retry window closed; billing stops until reprocessed."""

    attempts = integer("Retries made.", minimum=0)
    at = _at()
