"""Public data of the subscription's boleto, change, cancellation and scheduling events (recur.subscriptions.v1).

Fields are declared in the order of the internal event class, which is the order of the published JSON.
"""

from __future__ import annotations

from recur.contract.fields import PublicSchema, boolean, choice, currency, instant, integer, minor_units, nested, text
from recur.contract.registry import CONTRACT
from recur.contract.subscription_events import KEY, charge_cycle, charge_installment, charge_installments
from recur.contract.values import MAX_INSTALLMENTS, PaymentMethod, PlanTerms, origin
from recur.domain.subscription import Subscription


@CONTRACT.declare(Subscription.BoletoIssued, version=1, status_after="— (pending for a first charge)")
class BoletoIssuedData(PublicSchema):
    """A bank slip was issued for an installment; it must be paid before `expires_at`."""

    key = text(KEY)
    boleto_id = text("The boleto.")
    line = text("The boleto's typeable line (linha digitável).")
    amount = minor_units()
    currency = currency()
    cycle = charge_cycle()
    installment = charge_installment()
    installments = charge_installments()
    due_date = text("Last day to pay (YYYY-MM-DD).", fmt="date")
    expires_at = instant("Unpaid after this instant, the boleto expires (BoletoExpired).")
    at = instant("When it was issued.")


@CONTRACT.declare(Subscription.BoletoPaid, version=1, status_after="— (then active)")
class BoletoPaidData(PublicSchema):
    """The bank reported a boleto paid (even an expired one, which restarts billing); ChargeSucceeded follows at once."""

    boleto_id = text("The boleto.")
    amount = minor_units()
    currency = currency()
    at = instant("When the bank reported it paid.")


@CONTRACT.declare(Subscription.BoletoExpired, version=1, status_after="inactive")
class BoletoExpiredData(PublicSchema):
    """The boleto was not paid in time; billing stops until reprocessed or a card is given."""

    boleto_id = text("The boleto.")
    amount = minor_units()
    currency = currency()
    cycle = integer("Billing cycle of the unpaid installment.", minimum=1)
    installment = integer("The unpaid installment of the cycle (1-based).", minimum=1, maximum=MAX_INSTALLMENTS)
    status = choice(("inactive", "cancelled"), "Status after the expiry.")
    at = instant("When it expired.")


@CONTRACT.declare(Subscription.PlanChanged, version=2)
class PlanChangedData(PublicSchema):
    """Move to another plan of the same product: at the next renewal, or at once before the first charge."""

    from_plan_id = text("The plan before the change.")
    terms = nested(PlanTerms, "The new plan's terms.")
    applies_now = boolean("True: the new terms applied at once (no charge was under way yet); false: from the next renewal "
                          "(ChargeSucceeded carries them as `new_terms`). Null on events recorded before version 2: then "
                          "they applied at once if no cycle had been paid yet.", nullable=True, since=2)
    effective_at = instant("When the new terms start to apply (`at` when they apply now, else the next renewal).")
    at = instant("When the change was requested.")


@CONTRACT.declare(Subscription.PaymentMethodChanged, version=1)
class PaymentMethodChangedData(PublicSchema):
    """A new card or boleto for the next charges; a retry waiting for a new card is scheduled at once."""

    payment_method = nested(PaymentMethod, "The new payment method.")
    at = instant("When it changed.")


@CONTRACT.declare(Subscription.BillingDayChanged, version=1)
class BillingDayChangedData(PublicSchema):
    """The next charges move to another day of the month."""

    day = integer("Day of the month of the next charges.", minimum=1, maximum=28)
    anchor = instant("New billing anchor (internal billing-date arithmetic).")
    cycle_offset = integer("Months from the anchor to the current cycle's start (internal billing-date arithmetic).")
    next_charge_at = instant("When the next charge is due.")
    at = instant("When it changed.")


@CONTRACT.declare(Subscription.CancellationScheduled, version=1, status_after="— (until Cancelled)")
class CancellationScheduledData(PublicSchema):
    """Cancellation at the end of the paid (or trial) period; no renewal is charged."""

    origin = origin()
    reason = text("Why, as given; null when none.", nullable=True)
    cancel_at = instant("End of the paid (or trial) period, when Cancelled follows.")
    at = instant("When the cancellation was requested.")


@CONTRACT.declare(Subscription.Cancelled, version=1, status_after="cancelled (final)")
class CancelledData(PublicSchema):
    """The subscription ended; nothing more is charged."""

    origin = origin()
    reason = text("Why, as given; null when none.", nullable=True)
    at = instant("When the subscription ended (for a scheduled cancellation, its `cancel_at`).")


@CONTRACT.declare(Subscription.Rescheduled, version=2)
class RescheduledData(PublicSchema):
    """Internal bookkeeping: when the billing scheduler should next look at the subscription."""

    next_due_at = instant("When the billing scheduler next looks at the subscription (a charge, a retry, an expiry, a scheduled "
                          "cancellation or a notice falls due); already past means at once; null when nothing will fall due.",
                          nullable=True)
    at = instant("When it was rescheduled (sandbox-clock time in the sandbox); null on events recorded before version 2.",
                 nullable=True, since=2)



@CONTRACT.declare(Subscription.SubscriberErased, version=1)
class SubscriberErasedData(PublicSchema):
    """The subscriber's personal data was erased at their request (crypto-shredding): downstream consumers must forget it.

    Every field marked personal in this subscription's events reads null from now on, in the API and in any republished
    message; amounts, dates and statuses stay. Copies a consumer kept (from SubscriptionStarted or PaymentMethodChanged)
    must be deleted."""

    at = instant("When the personal data was erased.")
