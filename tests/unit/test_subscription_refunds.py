"""Refunds and disputes: money goes back at most once, never beyond what was paid, and totals are net of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_builders import ACTOR, BOLETO, JAN_31, active_subscription, names, of_type, pay_next_charge, replay, start_subscription

from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.money import Money
from recur.domain.refunds import PENDING_REFUND_RECHECK
from recur.domain.subscription import Subscription

LATER = JAN_31 + timedelta(days=2)


def brl(amount: int) -> Money:
    return Money(amount, "BRL")


def refund_approved(sub: Subscription, **what: object) -> str:
    """Refund through the two phases with the gateway approving; returns the refund's key."""
    request = sub.begin_refund(LATER, ACTOR, **what)  # type: ignore[arg-type]
    assert sub.record_refund_succeeded(request.refund_id, f"re-{request.key}", LATER, ACTOR)
    return request.key


# ---------------------------------------------------------------------------------------------- recur's own refunds


def test_by_default_the_last_approved_charge_is_refunded_in_full() -> None:
    sub = active_subscription()
    renewal = pay_next_charge(sub)

    request = sub.begin_refund(LATER, ACTOR, reason="requested by the buyer")

    assert request.key == request.refund_id == f"{sub.id}:r1"
    assert request.gateway_charge_id == f"gw-{renewal.key}"
    assert request.amount == brl(1000)
    assert sub.total_paid == 2000  # nothing has gone back until the gateway says so
    assert sub.record_refund_succeeded(request.refund_id, "re_1", LATER, ACTOR)
    refunded = of_type(list(sub.collect_events()), "ChargeRefunded")[0]
    assert (refunded.charge_id, refunded.amount, refunded.fully_refunded, refunded.external) == (renewal.key, 1000, True, False)
    assert refunded.reason == "requested by the buyer" and refunded.gateway_refund_id == "re_1"
    assert (sub.total_paid, sub.total_refunded, sub.paid_recurrences) == (1000, 1000, 2)


def test_a_charge_is_refunded_in_parts_up_to_its_amount_and_no_further() -> None:
    sub = active_subscription()
    charge = next(iter(sub.paid_charges))

    refund_approved(sub, charge_id=charge, amount=brl(300))
    refund_approved(sub, charge_id=charge, amount=brl(700))

    assert sub.paid_charges[charge].refunded == 1000 and sub.total_paid == 0
    with pytest.raises(RuleViolationError) as too_much:
        sub.begin_refund(LATER, ACTOR, charge_id=charge, amount=brl(1))
    assert too_much.value.field == "amount"
    with pytest.raises(InvalidStateError, match="nothing is left"):
        sub.begin_refund(LATER, ACTOR)
    assert [e.fully_refunded for e in of_type(list(sub.collect_events()), "ChargeRefunded")] == [False, True]


def test_more_than_is_left_is_refused_while_earlier_refunds_await_the_gateway() -> None:
    sub = active_subscription()
    with pytest.raises(RuleViolationError, match="at most 1000") as beyond:
        sub.begin_refund(LATER, ACTOR, amount=brl(1001))
    assert beyond.value.field == "amount"

    sub.begin_refund(LATER, ACTOR, amount=brl(600))  # no answer yet: 600 is reserved

    with pytest.raises(RuleViolationError, match="at most 400"):
        sub.begin_refund(LATER, ACTOR, amount=brl(500))
    assert sub.begin_refund(LATER, ACTOR, amount=brl(400)).key == f"{sub.id}:r2"


def test_a_refund_names_its_charge_by_transaction_id_in_the_charges_currency() -> None:
    sub = active_subscription()
    with pytest.raises(RuleViolationError) as unknown:
        sub.begin_refund(LATER, ACTOR, charge_id=f"{sub.id}:c9:i1:a1")
    with pytest.raises(RuleViolationError) as currency:
        sub.begin_refund(LATER, ACTOR, amount=Money(100, "USD"))
    assert (unknown.value.field, currency.value.field) == ("charge_id", "currency")


def test_nothing_to_refund_before_a_charge_is_paid() -> None:
    with pytest.raises(InvalidStateError, match="no paid charge"):
        start_subscription(trial_days=7).begin_refund(LATER, ACTOR)


def test_a_refused_refund_frees_its_amount() -> None:
    sub = active_subscription()
    request = sub.begin_refund(LATER, ACTOR)

    assert sub.record_refund_failed(request.refund_id, "insufficient_balance", LATER, ACTOR)

    assert sub.total_paid == 1000 and sub.refunds[request.refund_id].status == "failed"
    assert sub.begin_refund(LATER, ACTOR).amount == brl(1000)


def test_one_refund_is_recorded_once_whoever_records_its_answer() -> None:
    sub = active_subscription()
    first = sub.begin_refund(LATER, ACTOR, amount=brl(100))
    second = sub.begin_refund(LATER, ACTOR, amount=brl(100))
    assert first.key != second.key

    assert sub.record_refund_succeeded(first.refund_id, "re_1", LATER, ACTOR)
    assert not sub.record_refund_succeeded(first.refund_id, "re_1", LATER, ACTOR)
    assert not sub.record_refund_failed(first.refund_id, "too late", LATER, ACTOR)

    assert len(of_type(list(sub.collect_events()), "ChargeRefunded")) == 1 and sub.total_paid == 900


def test_a_refund_whose_answer_never_came_is_due_at_once_with_its_own_key() -> None:
    sub = active_subscription()
    request = sub.begin_refund(LATER, ACTOR)

    assert sub.refunds_due(LATER) == [request]
    assert sub.next_due_at == LATER  # the scheduler comes by and asks the gateway with the same key


def test_a_pending_refund_is_asked_about_again_later_and_keeps_its_amount_reserved() -> None:
    sub = active_subscription()
    request = sub.begin_refund(LATER, ACTOR)

    assert sub.record_refund_pending(request.refund_id, "re_slow", LATER, ACTOR)

    recheck = LATER + PENDING_REFUND_RECHECK
    assert sub.refunds_due(LATER) == [] and sub.next_due_at == recheck
    assert sub.refunds_due(recheck) == [request]
    with pytest.raises(RuleViolationError):
        sub.begin_refund(LATER, ACTOR, amount=brl(1))
    assert sub.record_refund_succeeded(request.refund_id, None, recheck, ACTOR)
    assert sub.refunds[request.refund_id].gateway_refund_id == "re_slow"
    assert sub.next_due_at == sub.next_charge_at and sub.total_paid == 0


def test_a_cancelled_subscription_can_still_be_refunded() -> None:
    sub = active_subscription()
    sub.cancel("seller", None, "now", LATER, ACTOR)

    request = sub.begin_refund(LATER, ACTOR)
    assert sub.next_due_at == LATER  # even a cancelled subscription is visited until its refund is answered
    sub.record_refund_succeeded(request.refund_id, "re_1", LATER, ACTOR)

    assert (sub.status, sub.total_paid, sub.next_due_at) == ("cancelled", 0, None)


def test_a_boleto_paid_charge_is_refundable_like_a_card_charge() -> None:
    sub = start_subscription(payment_method=BOLETO)
    request = sub.begin_charge(JAN_31, ACTOR)
    assert request is not None
    sub.record_boleto_issued(request.key, "boleto-1", "2379", JAN_31, ACTOR)
    sub.record_boleto_paid("boleto-1", JAN_31, ACTOR)

    assert sub.begin_refund(LATER, ACTOR).gateway_charge_id == "boleto:boleto-1"


# ---------------------------------------------------------------------------------------------- facts from the gateway


def test_a_refund_made_at_the_gateway_is_recorded_once() -> None:
    sub = active_subscription()
    charge = next(iter(sub.paid_charges.values()))

    assert sub.record_external_refund(charge.gateway_charge_id, "re_dashboard", brl(250), LATER, ACTOR)
    assert not sub.record_external_refund(charge.gateway_charge_id, "re_dashboard", brl(250), LATER, ACTOR)

    refunded = of_type(list(sub.collect_events()), "ChargeRefunded")
    assert len(refunded) == 1 and refunded[0].external and refunded[0].refund_id == f"{sub.id}:r1"
    assert sub.total_paid == 750 and sub.refunds[f"{sub.id}:r1"].key is None
    assert sub.begin_refund(LATER, ACTOR).amount == brl(750)


def test_the_gateways_word_on_a_pending_refund_of_recurs_settles_it_rather_than_adding_one() -> None:
    sub = active_subscription()
    request = sub.begin_refund(LATER, ACTOR)
    sub.record_refund_pending(request.refund_id, "re_slow", LATER, ACTOR)

    assert sub.record_external_refund(request.gateway_charge_id, "re_slow", brl(1000), LATER, ACTOR)

    assert list(sub.refunds) == [request.refund_id] and sub.refunds[request.refund_id].status == "succeeded"
    assert sub.total_paid == 0 and sub.refunds_due(LATER + PENDING_REFUND_RECHECK) == []


def test_a_refund_of_a_charge_not_recorded_yet_is_refused_for_the_gateway_to_redeliver() -> None:
    sub = active_subscription()
    with pytest.raises(InvalidStateError):
        sub.record_external_refund("ch_unknown", "re_1", brl(100), LATER, ACTOR)


def test_an_open_dispute_blocks_refunds_of_its_charge_and_a_won_one_changes_nothing() -> None:
    sub = active_subscription()
    charge = next(iter(sub.paid_charges.values()))

    assert sub.record_dispute_opened(charge.gateway_charge_id, "dp_1", brl(1000), "fraudulent", LATER, ACTOR)
    assert not sub.record_dispute_opened(charge.gateway_charge_id, "dp_1", brl(1000), "fraudulent", LATER, ACTOR)
    with pytest.raises(InvalidStateError, match="disputed"):
        sub.begin_refund(LATER, ACTOR)

    assert sub.record_dispute_closed("dp_1", "won", LATER, ACTOR)
    assert not sub.record_dispute_closed("dp_1", "won", LATER, ACTOR)

    assert sub.total_paid == 1000
    assert sub.begin_refund(LATER, ACTOR).amount == brl(1000)
    assert names(list(sub.collect_events())).count("DisputeClosed") == 1


def test_a_lost_dispute_is_money_gone_like_a_refund() -> None:
    sub = active_subscription()
    charge = next(iter(sub.paid_charges.values()))
    refund_approved(sub, amount=brl(200))
    sub.record_dispute_opened(charge.gateway_charge_id, "dp_1", brl(800), None, LATER, ACTOR)

    assert sub.record_dispute_closed("dp_1", "lost", LATER, ACTOR)

    assert (sub.total_paid, sub.total_refunded) == (0, 1000)
    assert sub.paid_charges[charge.key].fully_refunded
    with pytest.raises(InvalidStateError, match="nothing is left"):
        sub.begin_refund(LATER, ACTOR)


def test_a_dispute_closed_before_it_was_opened_or_with_another_outcome_is_refused() -> None:
    sub = active_subscription()
    with pytest.raises(InvalidStateError):
        sub.record_dispute_closed("dp_unknown", "lost", LATER, ACTOR)
    charge = next(iter(sub.paid_charges.values()))
    sub.record_dispute_opened(charge.gateway_charge_id, "dp_1", brl(1000), None, LATER, ACTOR)
    with pytest.raises(RuleViolationError) as outcome:
        sub.record_dispute_closed("dp_1", "withdrawn", LATER, ACTOR)
    assert outcome.value.field == "outcome"


def test_refunds_and_disputes_replay_to_the_same_state() -> None:
    sub = active_subscription()
    pay_next_charge(sub)
    first, second = list(sub.paid_charges.values())
    refund_approved(sub, charge_id=first.key, amount=brl(100))
    pending = sub.begin_refund(LATER, ACTOR, charge_id=first.key, amount=brl(50))
    sub.record_refund_pending(pending.refund_id, "re_p", LATER, ACTOR)
    sub.record_external_refund(second.gateway_charge_id, "re_x", brl(10), LATER, ACTOR)
    sub.record_dispute_opened(second.gateway_charge_id, "dp_1", brl(990), None, LATER, ACTOR)
    sub.record_dispute_closed("dp_1", "lost", LATER, ACTOR)

    replayed = replay(list(sub.collect_events()))

    assert replayed.refunds == sub.refunds and replayed.disputes == sub.disputes and replayed.paid_charges == sub.paid_charges
    assert (replayed.total_paid, replayed.total_refunded, replayed.next_due_at) == (900, 1100, LATER + PENDING_REFUND_RECHECK)
