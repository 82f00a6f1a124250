"""Gateway calls made concurrently, with a bounded number in flight per gateway.

A real gateway answers in 200-800 ms: one call at a time a renewal run would wait hours for 50,000 subscribers. The
billing run hands a batch's calls to the gateway's lane and waits for them all; the lane keeps at most `limit` in
flight, the smaller of RECUR_GATEWAY_CONCURRENCY and what the adapter allows (`max_in_flight`: Stripe's rate limits),
shared by every run of the process, so two billing runs at once do not double the load on the gateway.

Threads, not asyncio: the adapters are blocking (the Stripe SDK, psycopg2), and a thread waiting on a socket holds no GIL.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")


class Answers(Generic[K, T]):
    """Calls handed to a lane and under way; `wait` returns each call's result or the exception it raised."""

    def __init__(self, futures: dict[K, Future[T]]) -> None:
        self._futures = futures

    def wait(self) -> dict[K, T | BaseException]:
        outcomes: dict[K, T | BaseException] = {}
        for key, future in self._futures.items():
            error = future.exception()
            outcomes[key] = error if error is not None else future.result()
        return outcomes


class GatewayLane:
    """A bounded pool of gateway calls. `submit_all` hands calls over and returns at once (the billing run decides its
    next batch while these are answered); `run_all` also waits for them. Calls run in the order handed over."""

    def __init__(self, limit: int, name: str = "gateway") -> None:
        self.limit = limit
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=name)

    def submit_all(self, calls: Iterable[tuple[K, Callable[[], T]]]) -> Answers[K, T]:
        return Answers({key: self._pool.submit(call) for key, call in calls})

    def run_all(self, calls: Iterable[tuple[K, Callable[[], T]]]) -> dict[K, T | BaseException]:
        return self.submit_all(calls).wait()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


_lanes: weakref.WeakKeyDictionary[Any, GatewayLane] = weakref.WeakKeyDictionary()
_lanes_lock = threading.Lock()


def lane_for(gateway: Any, concurrency: int) -> GatewayLane:
    """The process's lane for this gateway object, made on first use with its limit."""
    allowed = getattr(gateway, "max_in_flight", None)
    limit = max(1, min(concurrency, allowed) if allowed else concurrency)
    with _lanes_lock:
        lane = _lanes.get(gateway)
        if lane is None:
            lane = _lanes[gateway] = GatewayLane(limit)
        return lane
