"""When refused charges are retried, and which refusals are worth retrying at all."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from recur.domain.errors import RuleViolationError

# Refusals that no retry can fix: the card is gone or the account does not exist.
# Retrying them only burns the customer's goodwill and the issuer's patience (and issuers
# penalise merchants who retry such cards), so billing waits for a new payment method instead.
HARD_DECLINES = frozenset({"stolen_card", "lost_card", "invalid_account", "expired_card", "card_not_supported"})


def is_hard_decline(reason: str) -> bool:
    return reason in HARD_DECLINES


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    window_days: int = 15
    reset_billing_date: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or not 0 <= self.max_retries <= 10:
            raise RuleViolationError("max_retries must be between 0 and 10", "retry_policy.max_retries")
        if not isinstance(self.window_days, int) or not 1 <= self.window_days <= 60:
            raise RuleViolationError("window_days must be between 1 and 60", "retry_policy.window_days")

    def retry_at(self, first_refusal: datetime, attempt: int) -> datetime:
        """Retry `attempt` (1-based) of a refused installment.

        Retries are spread evenly over the window, the last one on the window's final day:
        5 retries in 15 days fall on days 3, 6, 9, 12 and 15 after the first refusal. Even spacing
        gives funds time to arrive between tries while keeping every retry inside the window.
        """
        if not 1 <= attempt <= self.max_retries:
            raise ValueError(f"attempt {attempt} is outside 1..{self.max_retries}")
        return first_refusal + timedelta(days=self.window_days) * attempt / self.max_retries

    def window_end(self, first_refusal: datetime) -> datetime:
        return first_refusal + timedelta(days=self.window_days)

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "max_retries": self.max_retries,
            "window_days": self.window_days,
            "reset_billing_date": self.reset_billing_date,
        }

    @classmethod
    def from_dict(cls, data: dict[str, int | bool]) -> RetryPolicy:
        return cls(int(data["max_retries"]), int(data["window_days"]), bool(data["reset_billing_date"]))


@dataclass(frozen=True)
class RetryState:
    """Where a refused installment stands in its retry window.

    `attempt` counts the retries scheduled so far (0 right after the first refusal, before one is
    planned). `next_retry_at` is None while billing waits for a new payment method: a hard decline
    pauses the retries, a new card resumes them while the window is open.
    """

    attempt: int
    max_retries: int
    next_retry_at: datetime | None
    first_refusal_at: datetime
    window_ends_at: datetime

    @classmethod
    def first_refusal(cls, policy: RetryPolicy, at: datetime) -> RetryState:
        """The window a first refusal opens; no retry is planned in it yet."""
        return cls(0, policy.max_retries, None, at, policy.window_end(at))

    @property
    def waiting_for_new_payment_method(self) -> bool:
        return self.next_retry_at is None

    def is_due(self, at: datetime) -> bool:
        return self.next_retry_at is not None and at >= self.next_retry_at

    def window_closed(self, at: datetime) -> bool:
        return at >= self.window_ends_at

    def after_refusal(self, policy: RetryPolicy, hard_decline: bool) -> RetryState | None:
        """The next retry once one more charge was refused; None when the policy's retries are used up.

        After a hard decline the retry waits for a new payment method instead of a date.
        """
        if self.attempt >= policy.max_retries:
            return None
        attempt = self.attempt + 1
        next_at = None if hard_decline else policy.retry_at(self.first_refusal_at, attempt)
        return RetryState(attempt, policy.max_retries, next_at, self.first_refusal_at, self.window_ends_at)

    def paused(self) -> RetryState:
        return replace(self, next_retry_at=None)

    def resumed(self, at: datetime) -> RetryState:
        return replace(self, next_retry_at=at)
