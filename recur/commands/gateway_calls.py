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
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K")


class GatewayLane:
    """A bounded pool of gateway calls; `run_all` returns each call's result or the exception it raised."""

    def __init__(self, limit: int, name: str = "gateway") -> None:
        self.limit = limit
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=name)

    def run_all(self, calls: Iterable[tuple[K, Callable[[], T]]]) -> dict[K, T | BaseException]:
        futures: dict[K, Future[T]] = {key: self._pool.submit(call) for key, call in calls}
        outcomes: dict[K, T | BaseException] = {}
        for key, future in futures.items():
            error = future.exception()
            outcomes[key] = error if error is not None else future.result()
        return outcomes

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
