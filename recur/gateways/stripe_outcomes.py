"""What a Stripe PaymentIntent, or a Stripe refusal, means in recur's terms.

recur's decline reasons are the sandbox's (recur/commands/sandbox_test_cards.py), and the domain decides which of them are
hard (recur/domain/retry.py HARD_DECLINES: no retry until the card changes). Stripe says why a card was refused in
`decline_code` (the issuer's reason, under `code: card_declined`) or in `code` itself (`expired_card`,
`processing_error`, `authentication_required`...); both are read through one table. A code nobody listed is a plain
`card_declined`: a soft refusal, retried as the plan's policy says.
"""

from __future__ import annotations

from typing import Any

from recur.commands.gateway import ChargeResult, RefundResult

AUTHENTICATION_REQUIRED = "authentication_required"
GENERIC_DECLINE = "card_declined"
# Stripe's code -> recur's reason. Groups follow Stripe's own table of decline codes (docs.stripe.com/declines/codes).
REASONS = {
    # The issuer says no for now: funds may arrive, a retry may pass.
    "insufficient_funds": "insufficient_funds",
    "card_velocity_exceeded": "insufficient_funds",
    "withdrawal_count_limit_exceeded": "insufficient_funds",
    "do_not_honor": "do_not_honor",
    "generic_decline": "card_declined",
    "card_declined": "card_declined",
    "fraudulent": "card_declined",  # Stripe asks merchants to present it as a generic decline
    "incorrect_cvc": "card_declined",
    "invalid_cvc": "card_declined",
    "incorrect_zip": "card_declined",
    # Nothing wrong with the card: the network or the issuer failed.
    "processing_error": "processing_error",
    "issuer_not_available": "processing_error",
    "try_again_later": "processing_error",
    "reenter_transaction": "processing_error",
    # The card cannot be charged again: hard declines, retries wait for a new card.
    "stolen_card": "stolen_card",
    "pickup_card": "stolen_card",
    "lost_card": "lost_card",
    "restricted_card": "lost_card",
    "expired_card": "expired_card",
    "invalid_expiry_month": "expired_card",
    "invalid_expiry_year": "expired_card",
    "invalid_account": "invalid_account",
    "new_account_information_available": "invalid_account",
    "incorrect_number": "invalid_account",
    "invalid_number": "invalid_account",
    "card_not_supported": "card_not_supported",
    "currency_not_supported": "card_not_supported",
    # The issuer wants the cardholder to authenticate (3-D Secure), which an off-session charge cannot do.
    "authentication_required": AUTHENTICATION_REQUIRED,
    "payment_intent_authentication_failure": AUTHENTICATION_REQUIRED,
}


def reason_for(code: str | None, decline_code: str | None) -> str:
    """recur's reason for a Stripe refusal: the issuer's decline code when Stripe gives one, else Stripe's code."""
    for given in (decline_code, code):
        if given and given in REASONS:
            return REASONS[given]
    return GENERIC_DECLINE


def outcome_of(intent: dict[str, Any]) -> ChargeResult | None:
    """The outcome a PaymentIntent records, or None while it has none yet (processing, or never confirmed).

    `gateway_charge_id` is the PaymentIntent's id: refunds and disputes name it."""
    status = intent.get("status")
    if status == "succeeded":
        return ChargeResult(True, str(intent["id"]))
    if status == "requires_action":
        # Off-session, nobody is there to authenticate: a refusal with its own reason, so the subscriber can be asked to act.
        return ChargeResult(False, str(intent["id"]), AUTHENTICATION_REQUIRED)
    if status in ("requires_payment_method", "canceled"):
        error = intent.get("last_payment_error") or {}
        return ChargeResult(False, str(intent["id"]), reason_for(error.get("code"), error.get("decline_code")))
    return None


def refund_result(refund: dict[str, Any]) -> RefundResult:
    """A Stripe Refund as recur's refund commands read it: `pending` (also while the bank wants an action) is asked
    about again later with the same key; `failed` and `canceled` gave nothing back."""
    status = refund.get("status")
    if status == "succeeded":
        return RefundResult("succeeded", str(refund["id"]))
    if status in ("failed", "canceled"):
        return RefundResult("failed", str(refund["id"]), str(refund.get("failure_reason") or status))
    return RefundResult("pending", str(refund["id"]))
