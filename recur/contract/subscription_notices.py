"""Public data of the subscription's time-based notices (recur.subscriptions.v1).

They announce a charge to come, like Stripe's `invoice.upcoming` and `customer.subscription.trial_will_end`:
the billing scheduler records them when their moment comes, and the e-mails (`renewal_reminder`,
`trial_ending`) are sent by a consumer of these events. They never change the subscription's status.

Fields are declared in the order of the internal event class, which is the order of the published JSON.
"""

from __future__ import annotations

from recur.contract.fields import PublicSchema, currency, instant, integer, minor_units, text
from recur.contract.registry import CONTRACT
from recur.contract.subscription_events import charge_installments
from recur.domain.subscription import Subscription


@CONTRACT.declare(Subscription.RenewalUpcoming, version=1)
class RenewalUpcomingData(PublicSchema):
    """The next cycle will be charged soon: `days_before` its renewal charge, the subscriber is to be reminded.

    Recorded at most once per cycle, only for a true renewal (at least one cycle paid; with smart installments
    before the cycle's renewal, not before each installment) of an `active` subscription (not `past_due`) with
    no cancellation scheduled and no charge under way, when the renewal terms set `renewal_reminder_days`. When
    that moment had already passed as the reminder became owed (a billing day moved closer, a reminder longer
    than the period, a subscription active again after a late payment), it is recorded at once."""

    cycle = integer("The cycle the renewal charge opens (2 = the first renewal).", minimum=2)
    renews_at = instant("When the renewal charge is due (the next cycle's start).")
    amount = minor_units("What the renewal charge will be, in minor units: the first installment of the next cycle, "
                         "priced on the renewal terms (a pending plan change's, if any).")
    currency = currency()
    installments = charge_installments()
    plan_id = text("The plan the next cycle is billed on (the new plan when a plan change takes effect with it).")
    days_before = integer("The renewal terms' `renewal_reminder_days`: the reminder is due this many days before `renews_at`.",
                          minimum=1, maximum=60)
    at = instant("When the reminder was recorded (the sandbox clock's time in the sandbox).")


@CONTRACT.declare(Subscription.TrialEndingSoon, version=1)
class TrialEndingSoonData(PublicSchema):
    """The trial ends in 3 days (or less, for a shorter trial) and the first charge follows: the subscriber is to be told.

    Recorded once, 3 days before `trial_ends_at` (at once for a trial of 3 days or less), for a `trialing`
    subscription with no cancellation scheduled."""

    trial_ends_at = instant("When the trial ends and the first charge is due.")
    amount = minor_units("What the first charge will be, in minor units (the first installment of the first cycle).")
    currency = currency()
    at = instant("When the notice was recorded (the sandbox clock's time in the sandbox).")
