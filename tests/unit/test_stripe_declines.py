"""Stripe's refusals in recur's words: the issuer's reason decides whether retries are worth making (hard declines
wait for a new card), and a PaymentIntent's status says whether it has an outcome at all."""

from __future__ import annotations

import pytest

from recur.domain.retry import HARD_DECLINES, is_hard_decline
from recur.gateways.stripe_outcomes import AUTHENTICATION_REQUIRED, REASONS, outcome_of, reason_for


@pytest.mark.parametrize("code", ["stolen_card", "lost_card", "expired_card", "invalid_account", "pickup_card", "restricted_card",
                                  "card_not_supported"])
def test_a_card_the_issuer_says_is_gone_is_a_hard_decline(code: str) -> None:
    assert is_hard_decline(reason_for("card_declined", code))


@pytest.mark.parametrize(("code", "decline_code", "reason"), [
    ("card_declined", "insufficient_funds", "insufficient_funds"),
    ("card_declined", "do_not_honor", "do_not_honor"),
    ("card_declined", "generic_decline", "card_declined"),
    ("processing_error", None, "processing_error"),
    ("card_declined", "try_again_later", "processing_error"),
])
def test_a_refusal_for_now_is_a_soft_decline_in_recur_s_words(code: str, decline_code: str | None, reason: str) -> None:
    assert reason_for(code, decline_code) == reason and not is_hard_decline(reason)


def test_the_issuer_s_decline_code_says_more_than_stripe_s_code() -> None:
    assert reason_for("card_declined", "stolen_card") == "stolen_card"
    assert reason_for("expired_card", None) == "expired_card"


def test_a_code_nobody_listed_is_a_plain_soft_decline() -> None:
    assert reason_for("something_new", "issuer_invented_this") == "card_declined"
    assert reason_for(None, None) == "card_declined"


def test_authentication_required_is_a_failure_with_its_own_reason() -> None:
    assert reason_for("authentication_required", "authentication_required") == AUTHENTICATION_REQUIRED
    assert outcome_of({"id": "pi_1", "status": "requires_action"}).reason == AUTHENTICATION_REQUIRED  # type: ignore[union-attr]


def test_every_hard_decline_of_recur_can_come_from_stripe() -> None:
    assert set(HARD_DECLINES) <= set(REASONS.values())


def test_a_payment_intent_says_approved_refused_or_nothing_yet() -> None:
    approved = outcome_of({"id": "pi_ok", "status": "succeeded"})
    refused = outcome_of({"id": "pi_no", "status": "requires_payment_method",
                          "last_payment_error": {"code": "card_declined", "decline_code": "lost_card"}})

    assert approved is not None and (approved.approved, approved.charge_id) == (True, "pi_ok")
    assert refused is not None and (refused.approved, refused.charge_id, refused.reason) == (False, "pi_no", "lost_card")
    assert outcome_of({"id": "pi_wait", "status": "processing"}) is None
    assert outcome_of({"id": "pi_new", "status": "requires_confirmation"}) is None
