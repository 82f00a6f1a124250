"""When a failed delivery is tried again: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure (API.md),
on the billing clock. Eight attempts in all over about 27.6 hours; then the delivery has failed for good (a producer can
still retry it by hand). An endpoint whose deliveries keep failing for 5 days is disabled (recur.domain.webhooks)."""

from __future__ import annotations

from datetime import timedelta

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)


def delay_after(attempts: int) -> timedelta | None:
    """How long after its `attempts`-th failed attempt a delivery is tried again; None when that was the last."""
    if attempts < 1:
        raise ValueError("a delay follows an attempt")
    return RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else None
