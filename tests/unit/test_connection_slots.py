"""The connection slots of recur.db.Database: a thread that gives a connection back and asks again at once (a pool of
gateway calls) does not keep it from a thread already waiting (the billing run's own statements)."""

from __future__ import annotations

import threading

from waiting import wait_until

from recur.db import Slots


def wait_until_waiting(slots: Slots, count: int) -> None:
    # The test watches the queue to order its threads.
    wait_until(lambda: len(slots._waiting) >= count, 10, "the waiter queues", interval=0.001)  # noqa: SLF001


def test_a_released_slot_goes_to_the_thread_waiting_longest_not_back_to_the_releaser() -> None:
    slots = Slots(1)
    assert slots.acquire(timeout=1)
    served: list[str] = []
    waiter = threading.Thread(target=lambda: slots.acquire(timeout=10) and served.append("waiter"))
    waiter.start()
    wait_until_waiting(slots, 1)

    slots.release()
    assert not slots.acquire(timeout=0.05), "the releaser asking again at once waits its turn"
    waiter.join(timeout=10)
    assert served == ["waiter"]
    slots.release()
    assert slots.acquire(timeout=1)


def test_a_waiter_that_times_out_leaves_the_queue_and_the_slot_to_the_next() -> None:
    slots = Slots(1)
    assert slots.acquire(timeout=1)
    assert not slots.acquire(timeout=0.01)
    assert len(slots._waiting) == 0  # noqa: SLF001
    slots.release()
    assert slots.acquire(timeout=0.01)
