"""PostgreSQL access for everything but the event store: psycopg2 pools (migrations: recur.migrations)."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from recur.deadlines import time_left
from recur.migrations import migrate as migrate  # where its callers have always found it

log = logging.getLogger(__name__)

SLOT_WAIT = 30.0


def is_transient(error: BaseException) -> bool:
    """Whether an error says the database (or the network) is unavailable or busy rather than that the data
    is wrong: lost connections, timeouts, deadlocks. Those are retried as they are; anything else that an
    event causes is the event's fault, and the event is quarantined (see recur.consumers.dead_letters)."""
    from eventsourcing import persistence

    return isinstance(
        error,
        psycopg2.OperationalError | psycopg2.InterfaceError | persistence.OperationalError | persistence.InterfaceError | OSError,
    )


TEXT_LIMIT = 2000


def storable_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """What PostgreSQL's text accepts: no NUL, no lone surrogates (often the very error being recorded)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")[:limit]


def describe_error(error: BaseException) -> tuple[str, str]:
    """(class name, message) of an error, storable as text."""
    return type(error).__name__, storable_text(str(error).strip() or repr(error))


class Slots:
    """A counting semaphore that hands a released slot to the thread that has waited longest.

    threading.Semaphore lets the releasing thread take the slot straight back: a pool of gateway calls (each thread
    releasing its connection and asking again for the next call) then keeps every connection for as long as it has
    calls queued, and the billing run's own statements on the same pool waited for the whole batch of calls."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed over while timing out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # the slot passes to the longest waiter, never back to the pool
            else:
                self._free += 1


class Database:
    """A pool of psycopg2 connections. minconn == maxconn: a smaller minconn makes the pool
    close returned connections and open new backends (measured: half the throughput)."""

    def __init__(self, url: str, size: int = 4) -> None:
        self.url = url
        self.size = size
        self.pool = psycopg2.pool.ThreadedConnectionPool(size, size, url)
        # The pool fails at once when exhausted; callers wait for a free connection instead, in turn.
        self._slots = Slots(size)

    def _take_slot(self) -> None:
        """Wait for a free connection, no longer than the request's deadline (30 s outside requests)."""
        left = time_left()
        wait = SLOT_WAIT if left is None else min(left, SLOT_WAIT)
        if not self._slots.acquire(timeout=wait):
            raise psycopg2.OperationalError(f"no database connection free for {wait:.0f} s")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        self._take_slot()
        try:
            conn = self.pool.getconn()
            broken = False
            try:
                with conn, conn.cursor() as cur:
                    yield cur
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
            finally:
                self.pool.putconn(conn, close=broken or bool(conn.closed))
        finally:
            self._slots.release()

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Any]:
        """A cursor outside any transaction: one round trip per statement instead of three
        (BEGIN, statement, COMMIT); for single statements only."""
        self._take_slot()
        try:
            conn = self.pool.getconn()
            broken = False
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    yield cur
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
            finally:
                if not conn.closed:
                    conn.autocommit = False
                self.pool.putconn(conn, close=broken or bool(conn.closed))
        finally:
            self._slots.release()

    def fetchall(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.autocommit() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def fetchone(self, sql: str, params: Any = None) -> tuple[Any, ...] | None:
        with self.autocommit() as cur:
            cur.execute(sql, params)
            row: tuple[Any, ...] | None = cur.fetchone()
            return row

    def execute(self, sql: str, params: Any = None) -> None:
        with self.transaction() as cur:
            cur.execute(sql, params)

    def close(self) -> None:
        self.pool.closeall()
