"""A request deadline for every database wait, so a database that stops answering costs a client
seconds and a 503 with Retry-After, not a hung request.

A paused or wedged PostgreSQL (SIGSTOP, a hung host, a network partition) keeps its sockets open and
its kernel keeps acknowledging: neither `statement_timeout` (the server enforces it) nor TCP
timeouts fire, and libpq waits forever. So the waiting is done here, on the client, against the
current request's deadline (a context variable: each thread of a worker has its own, and code that
runs outside a request, such as the relay and the consumers, has none and waits as before):

- psycopg2 (read models and our own SQL): a wait callback that polls the socket with the time left;
- psycopg 3 (the event store, through eventsourcing): a Connection subclass whose `wait` gets the time
  left, and a pool whose `getconn` never waits past the deadline. eventsourcing builds its pool from
  the names `Connection` and `ConnectionPool` of its own postgres module, so `install()` points those
  names at the subclasses (eventsourcing is pinned exactly in pyproject for this reason).

A wait that runs out closes that connection (its protocol state is unknown) and raises
`DatabaseDeadlineExceeded`, which is deliberately not a psycopg error: eventsourcing retries those
ten times, which would multiply the wait.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import psycopg
import psycopg2.extensions
import psycopg_pool
from psycopg import errors as psycopg_errors

_deadline: ContextVar[float | None] = ContextVar("recur_database_deadline", default=None)


class DatabaseDeadlineExceeded(Exception):
    """The database did not answer before the request's deadline."""


@contextlib.contextmanager
def answer_within(seconds: float | None) -> Iterator[None]:
    """Every database wait inside the block ends by `seconds` from now (None: no deadline)."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextlib.contextmanager
def waiting_elsewhere() -> Iterator[None]:
    """Time spent waiting on something other than the database (a payment gateway's answer) is not database time:
    inside the block there is no deadline, and after it the database gets back the allowance it had left."""
    deadline = _deadline.get()
    if deadline is None:
        yield
        return
    left = deadline - time.monotonic()
    token = _deadline.set(None)
    try:
        yield
    finally:
        _deadline.reset(token)
        _deadline.set(time.monotonic() + left)


def start_deadline(seconds: float | None) -> object:
    """For frameworks that open and close in separate hooks (Flask's before/teardown_request)."""
    return _deadline.set(None if seconds is None else time.monotonic() + seconds)


def end_deadline(token: object) -> None:
    _deadline.reset(token)  # type: ignore[arg-type]


def time_left() -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DatabaseDeadlineExceeded("the database did not answer in time")
    return left


def _cut(fileno: int) -> None:
    """Shut the connection's socket down, so whatever the driver does next with it fails at once.

    Closing the connection through the driver instead may wait on the very server that is not answering.
    """
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fileno)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def _psycopg2_wait(conn: Any) -> None:
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        try:
            left = time_left()
        except DatabaseDeadlineExceeded:
            _cut(conn.fileno())
            raise
        if state == psycopg2.extensions.POLL_READ:
            ready = select.select([conn.fileno()], [], [], left)[0]
        else:
            ready = select.select([], [conn.fileno()], [], left)[1]
        if not ready:
            _cut(conn.fileno())
            raise DatabaseDeadlineExceeded("the database did not answer in time")


Row = TypeVar("Row")


class DeadlineConnection(psycopg.Connection[Row]):
    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        left = time_left() if _deadline.get() is not None else None
        if left is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, left if timeout is None else min(timeout, left))
        except psycopg_errors._WaitTimeout:  # noqa: SLF001 - psycopg's own wait signals expiry this way
            _cut(self.pgconn.socket)
            raise DatabaseDeadlineExceeded("the database did not answer in time") from None


def _pool_class(base: type) -> type:
    class DeadlinePool(base):  # type: ignore[valid-type,misc]
        def getconn(self, timeout: float | None = None) -> Any:
            left = time_left()
            if left is not None:
                timeout = left if timeout is None else min(timeout, left)
            try:
                return super().getconn(timeout)
            except psycopg_pool.PoolTimeout:
                if _deadline.get() is not None:
                    raise DatabaseDeadlineExceeded("no database connection before the deadline") from None
                raise

    return DeadlinePool


_installed = False


def install() -> None:
    """Make every database wait in this process honour the current deadline (idempotent)."""
    global _installed
    if _installed:
        return
    import eventsourcing.postgres

    psycopg2.extensions.set_wait_callback(_psycopg2_wait)
    eventsourcing.postgres.Connection = DeadlineConnection  # type: ignore[misc]
    eventsourcing.postgres.ConnectionPool = _pool_class(eventsourcing.postgres.ConnectionPool)  # type: ignore[misc]
    _installed = True
