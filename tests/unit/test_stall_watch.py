"""Readiness tells stuck read models from busy ones: behind at the same position for a while is stuck."""

from __future__ import annotations

from recur.projections.lag import Lag, StallWatch


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def behind_at(position: int) -> Lag:
    return Lag(events_behind=5, seconds_behind=1.0, relay_behind=0, position=position)


CAUGHT_UP = Lag(events_behind=0, seconds_behind=0.0, relay_behind=0, position=None)


def test_a_projection_behind_at_the_same_position_for_the_whole_period_is_stuck() -> None:
    clock = FakeClock()
    watch = StallWatch(after=30, clock=clock)
    assert watch.stuck({"catalog": behind_at(7)}) == {}
    clock.now += 29
    assert watch.stuck({"catalog": behind_at(7)}) == {}
    clock.now += 2
    assert watch.stuck({"catalog": behind_at(7)}) == {"catalog": 31}


def test_a_projection_that_keeps_moving_is_never_stuck_however_far_behind() -> None:
    clock = FakeClock()
    watch = StallWatch(after=30, clock=clock)
    for position in range(10, 100, 10):
        assert watch.stuck({"sales": behind_at(position)}) == {}
        clock.now += 20


def test_catching_up_forgets_the_stall_and_a_new_lag_starts_afresh() -> None:
    clock = FakeClock()
    watch = StallWatch(after=30, clock=clock)
    watch.stuck({"catalog": behind_at(7)})
    clock.now += 31
    assert "catalog" in watch.stuck({"catalog": behind_at(7)})
    assert watch.stuck({"catalog": CAUGHT_UP}) == {}
    clock.now += 1
    assert watch.stuck({"catalog": behind_at(7)}) == {}
