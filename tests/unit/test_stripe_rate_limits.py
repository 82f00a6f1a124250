"""Stripe's rate limit (HTTP 429: nothing was processed) is waited out with growing pauses before the request is made
again; a limit that lasts leaves the outcome unknown, as no answer does. The pauses are recorded, never slept."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from recur.commands.gateway import GatewayOutcomeUnknown
from recur.gateways.stripe import RATE_LIMIT_BACKOFF_S, StripeGateway


def rate_limited_gateway(waits: list[float]) -> StripeGateway:
    db: Any = None  # never reached: only the request path is exercised
    return StripeGateway(db, "sk_test_rate", "http://127.0.0.1:9", None, pause=waits.append)


def test_a_rate_limited_charge_is_asked_again_after_growing_pauses() -> None:
    waits: list[float] = []
    answers = iter([stripe.RateLimitError("slow down", http_status=429), stripe.RateLimitError("slow down", http_status=429)])

    def create() -> str:
        error = next(answers, None)
        if error is not None:
            raise error
        return "pi_charged"

    assert rate_limited_gateway(waits)._call("charging attempt k", create, unknown=True) == "pi_charged"
    assert len(waits) == 2
    assert RATE_LIMIT_BACKOFF_S[0] <= waits[0] < waits[1] <= RATE_LIMIT_BACKOFF_S[1] * 1.5


def test_a_rate_limit_that_lasts_leaves_the_charge_unknown_not_refused() -> None:
    waits: list[float] = []

    def create() -> str:
        raise stripe.RateLimitError("slow down", http_status=429)

    with pytest.raises(GatewayOutcomeUnknown, match="429"):
        rate_limited_gateway(waits)._call("charging attempt k", create, unknown=True)
    assert len(waits) == len(RATE_LIMIT_BACKOFF_S)
