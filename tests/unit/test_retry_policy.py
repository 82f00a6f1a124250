"""The retry policy: when refused charges are retried, and which refusals are not worth it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recur.domain.errors import RuleViolationError
from recur.domain.retry import HARD_DECLINES, RetryPolicy, RetryState, is_hard_decline

FIRST_REFUSAL = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def test_by_default_five_retries_in_fifteen_days_without_moving_the_billing_date() -> None:
    assert RetryPolicy() == RetryPolicy(max_retries=5, window_days=15, reset_billing_date=False)


def test_five_retries_in_fifteen_days_fall_every_three_days() -> None:
    policy = RetryPolicy(max_retries=5, window_days=15)
    retries = [policy.retry_at(FIRST_REFUSAL, attempt) for attempt in range(1, 6)]
    assert retries == [FIRST_REFUSAL + timedelta(days=d) for d in (3, 6, 9, 12, 15)]


def test_the_last_retry_is_on_the_last_day_of_the_window() -> None:
    policy = RetryPolicy(max_retries=4, window_days=10)
    assert policy.retry_at(FIRST_REFUSAL, 4) == policy.window_end(FIRST_REFUSAL) == FIRST_REFUSAL + timedelta(days=10)


def test_a_single_retry_waits_for_the_whole_window() -> None:
    assert RetryPolicy(max_retries=1, window_days=7).retry_at(FIRST_REFUSAL, 1) == FIRST_REFUSAL + timedelta(days=7)


@given(max_retries=st.integers(min_value=1, max_value=10), window_days=st.integers(min_value=1, max_value=60))
def test_retries_are_spread_in_order_inside_the_window(max_retries: int, window_days: int) -> None:
    policy = RetryPolicy(max_retries=max_retries, window_days=window_days)
    retries = [policy.retry_at(FIRST_REFUSAL, attempt) for attempt in range(1, max_retries + 1)]

    assert retries == sorted(set(retries))
    assert retries[0] > FIRST_REFUSAL
    assert retries[-1] == policy.window_end(FIRST_REFUSAL)


@pytest.mark.parametrize("attempt", [0, 6, -1])
def test_there_is_no_retry_outside_one_to_max_retries(attempt: int) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=5).retry_at(FIRST_REFUSAL, attempt)


def test_a_policy_without_retries_schedules_none() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=0).retry_at(FIRST_REFUSAL, 1)


@pytest.mark.parametrize("max_retries", [-1, 11])
def test_max_retries_is_between_zero_and_ten(max_retries: int) -> None:
    with pytest.raises(RuleViolationError):
        RetryPolicy(max_retries=max_retries)


@pytest.mark.parametrize("window_days", [0, 61])
def test_the_window_is_between_one_and_sixty_days(window_days: int) -> None:
    with pytest.raises(RuleViolationError):
        RetryPolicy(window_days=window_days)


@pytest.mark.parametrize(("max_retries", "window_days"), [(0, 1), (10, 60)])
def test_the_bounds_themselves_are_allowed(max_retries: int, window_days: int) -> None:
    assert RetryPolicy(max_retries=max_retries, window_days=window_days).window_days == window_days


@pytest.mark.parametrize("reason", ["stolen_card", "lost_card", "invalid_account", "expired_card", "card_not_supported"])
def test_a_dead_card_is_a_hard_decline(reason: str) -> None:
    assert is_hard_decline(reason)


@pytest.mark.parametrize("reason", ["insufficient_funds", "card_declined", "do_not_honor", "processing_error"])
def test_a_refusal_that_may_pass_later_is_a_soft_decline(reason: str) -> None:
    assert not is_hard_decline(reason)


def test_there_are_exactly_five_hard_declines() -> None:
    assert len(HARD_DECLINES) == 5


def test_a_policy_round_trips_through_its_dict_form() -> None:
    policy = RetryPolicy(max_retries=3, window_days=9, reset_billing_date=True)
    assert policy.as_dict() == {"max_retries": 3, "window_days": 9, "reset_billing_date": True}
    assert RetryPolicy.from_dict(policy.as_dict()) == policy


# ------------------------------------------------------------------ a refused installment's retries
def test_each_refusal_schedules_the_next_retry_of_the_policy_until_none_is_left() -> None:
    policy = RetryPolicy(max_retries=2, window_days=10)
    retry = RetryState.first_refusal(policy, FIRST_REFUSAL)
    first = retry.after_refusal(policy, hard_decline=False)
    assert first is not None and (first.attempt, first.next_retry_at) == (1, FIRST_REFUSAL + timedelta(days=5))
    second = first.after_refusal(policy, hard_decline=False)
    assert second is not None and (second.attempt, second.next_retry_at) == (2, second.window_ends_at)
    assert second.after_refusal(policy, hard_decline=False) is None


def test_after_a_hard_decline_the_retry_waits_for_a_new_payment_method_inside_the_same_window() -> None:
    policy = RetryPolicy(max_retries=5, window_days=15)
    waiting = RetryState.first_refusal(policy, FIRST_REFUSAL).after_refusal(policy, hard_decline=True)
    assert waiting is not None and waiting.waiting_for_new_payment_method
    assert not waiting.is_due(waiting.window_ends_at)

    new_card_at = FIRST_REFUSAL + timedelta(days=2)
    resumed = waiting.resumed(new_card_at)
    assert resumed.is_due(new_card_at) and not resumed.waiting_for_new_payment_method
    assert (resumed.attempt, resumed.window_ends_at) == (waiting.attempt, FIRST_REFUSAL + timedelta(days=15))
