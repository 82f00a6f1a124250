"""The gateway lane: a billing run's gateway calls overlap, never more than the lane's limit at once."""

from __future__ import annotations

import threading

from recur.commands.gateway_calls import GatewayLane, lane_for


class CountingGateway:
    """Counts the calls in flight; each call waits at a barrier for `together` calls to be in flight at once, so the
    calls can only all finish if the lane really runs that many together (a deadline, not a timing)."""

    def __init__(self, together: int) -> None:
        self.barrier = threading.Barrier(together, timeout=30)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0

    def charge(self, amount: int) -> int:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            self.barrier.wait()
            return amount
        finally:
            with self.lock:
                self.in_flight -= 1


def test_a_lane_runs_its_limit_of_calls_at_once_and_never_more() -> None:
    gateway, lane = CountingGateway(together=4), GatewayLane(limit=4)
    try:
        answers = lane.run_all((key, lambda key=key: gateway.charge(key)) for key in range(12))
    finally:
        lane.close()

    assert answers == {key: key for key in range(12)}
    assert gateway.most == 4


def test_a_call_that_raises_is_answered_with_its_error_and_the_others_still_run() -> None:
    lane = GatewayLane(limit=2)

    def refused() -> int:
        raise ConnectionError("no answer")

    try:
        answers = lane.run_all([("a", lambda: 1), ("b", refused), ("c", lambda: 3)])
    finally:
        lane.close()

    assert answers["a"] == 1 and answers["c"] == 3
    assert isinstance(answers["b"], ConnectionError)


class RateLimitedGateway:
    max_in_flight = 8


class UnlimitedGateway:
    max_in_flight = None


def test_a_gateway_that_allows_fewer_calls_in_flight_gets_a_narrower_lane_shared_by_every_run() -> None:
    gateway = RateLimitedGateway()

    assert lane_for(gateway, 64).limit == 8
    assert lane_for(gateway, 64) is lane_for(gateway, 64)
    assert lane_for(UnlimitedGateway(), 16).limit == 16
