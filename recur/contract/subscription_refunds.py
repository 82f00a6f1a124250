"""Public data of the subscription's refunds and disputes (recur.subscriptions.v1).

A refund recur makes is two-phase like a charge: RefundRequested before the gateway is called, then ChargeRefunded,
RefundPending or RefundFailed for the same `refund_id`. A refund made at the gateway itself (its dashboard) arrives
as a ChargeRefunded with `external` true and no RefundRequested. Disputes (chargebacks) are ChargeDisputed, then
DisputeClosed. None of them changes the subscription's status; `total_paid` is net of refunds and lost disputes.

Fields are declared in the order of the internal event class, which is the order of the published JSON.
"""

from __future__ import annotations

from marshmallow import fields

from recur.contract.fields import PublicSchema, boolean, choice, currency, instant, minor_units, text
from recur.contract.registry import CONTRACT
from recur.domain.refunds import DISPUTE_OUTCOMES
from recur.domain.subscription import Subscription

REFUND_ID = "The refund: `<subscription_id>:r<n>`, the n-th refund of the subscription, whoever made it."
CHARGE_ID = ("The refunded charge as producers see it: the `key` of its ChargeSucceeded, which is the sales report's "
             "`transaction_id`.")
GATEWAY_CHARGE_ID = "The gateway's id of the charge (ChargeSucceeded's `gateway_charge_id`)."


def _at(description: str) -> fields.DateTime:
    return instant(f"{description} (the sandbox clock's time in the sandbox).")


@CONTRACT.declare(Subscription.RefundRequested, version=1)
class RefundRequestedData(PublicSchema):
    """A refund is about to be asked of the gateway; recorded before the call, so it is never made twice.

    Its amount is reserved against the charge until the gateway's answer is recorded."""

    refund_id = text(REFUND_ID)
    key = text("Idempotency key of the refund at the gateway (today equal to `refund_id`).")
    charge_id = text(CHARGE_ID)
    gateway_charge_id = text(GATEWAY_CHARGE_ID)
    amount = minor_units("What is to be refunded, in minor units.")
    currency = currency()
    reason = text("Why, as the producer or admin said; null when not said.", nullable=True)
    at = _at("When the refund was requested")


@CONTRACT.declare(Subscription.RefundPending, version=1)
class RefundPendingData(PublicSchema):
    """The gateway accepted the refund but has not finished it (money going back by bank transfer, for instance).

    The amount stays reserved; recur asks the gateway again at `recheck_at` (and on the gateway's own word, if it
    sends one) until ChargeRefunded or RefundFailed."""

    refund_id = text(REFUND_ID)
    gateway_refund_id = text("The gateway's id of the refund, when it gave one.", nullable=True)
    recheck_at = _at("When recur asks the gateway again")
    at = _at("When the gateway answered pending")


@CONTRACT.declare(Subscription.ChargeRefunded, version=1)
class ChargeRefundedData(PublicSchema):
    """Money went back to the buyer: one per refund, partial or full, made by recur or at the gateway.

    `total_paid` of the subscription drops by `amount`; the charge's sales row shows it in `refunded_amount`."""

    refund_id = text(REFUND_ID)
    charge_id = text(CHARGE_ID)
    gateway_charge_id = text(GATEWAY_CHARGE_ID)
    gateway_refund_id = text("The gateway's id of the refund (null if it gave none).", nullable=True)
    amount = minor_units("What was refunded, in minor units.")
    currency = currency()
    fully_refunded = boolean("Nothing is left to refund of the charge: refunds and lost disputes cover its amount.")
    reason = text("Why, as the producer or admin said; null when not said or made at the gateway.", nullable=True)
    external = boolean("Made at the gateway (its dashboard), not through recur: no RefundRequested preceded it.")
    at = _at("When the refund was recorded as done")


@CONTRACT.declare(Subscription.RefundFailed, version=1)
class RefundFailedData(PublicSchema):
    """The gateway refused the refund; nothing went back and the amount may be refunded again."""

    refund_id = text(REFUND_ID)
    charge_id = text(CHARGE_ID)
    amount = minor_units("What was to be refunded, in minor units.")
    currency = currency()
    reason = text("The gateway's reason, e.g. amount_exceeds_charge, charge_not_refundable.")
    at = _at("When the gateway refused")


@CONTRACT.declare(Subscription.ChargeDisputed, version=1)
class ChargeDisputedData(PublicSchema):
    """The buyer disputed a charge with their card issuer (a chargeback); the charge cannot be refunded meanwhile."""

    dispute_id = text("The gateway's id of the dispute.")
    charge_id = text(CHARGE_ID)
    gateway_charge_id = text(GATEWAY_CHARGE_ID)
    amount = minor_units("The disputed amount, in minor units.")
    currency = currency()
    reason = text("The gateway's reason, e.g. fraudulent, product_not_received; null when it gave none.", nullable=True)
    at = _at("When the dispute was recorded")


@CONTRACT.declare(Subscription.DisputeClosed, version=1)
class DisputeClosedData(PublicSchema):
    """The issuer decided a dispute. Lost: the disputed amount went back to the buyer, like a refund (`total_paid` drops
    by it). Won: the money stays."""

    dispute_id = text("The gateway's id of the dispute.")
    charge_id = text(CHARGE_ID)
    outcome = choice(DISPUTE_OUTCOMES, "won: the money stays with the producer; lost: it went back to the buyer.")
    amount = minor_units("The disputed amount, in minor units.")
    currency = currency()
    at = _at("When the dispute was closed")
