"""A real HTTP server in the test process that receives recur's webhooks, for the webhook tests.

It listens on a free loopback port (the sandbox lets recur deliver to loopback), keeps every request it gets, and
answers as a test tells it: a queue of statuses to answer next (then 200), or hanging (holding each request open until
released), as a receiver that is down, overloaded or stuck would. Tests wait for requests with a deadline on a
condition variable, never a sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One request as it arrived: headers (lower-cased names), the raw body, and when (monotonic seconds)."""

    headers: dict[str, str]
    body: bytes
    arrived_at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def type(self) -> str:
        return str(self.payload["type"])

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class Receiver:
    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.statuses: list[int] = []
        self.holding = threading.Event()  # set: every request is held open until `release`
        self.released = threading.Event()
        self.in_flight = 0
        self.changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status = receiver.arrived(Delivery({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler

    def arrived(self, delivery: Delivery) -> int:
        with self.changed:
            self.received.append(delivery)
            self.in_flight += 1
            self.changed.notify_all()
        if self.holding.is_set():
            self.released.wait(timeout=60)
        with self.changed:
            self.in_flight -= 1
            status = self.statuses.pop(0) if self.statuses else 200
            self.changed.notify_all()
        return status

    # ------------------------------------------------------------------ what tests say
    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recur?source=test"

    def answer_next(self, *statuses: int) -> None:
        with self.changed:
            self.statuses.extend(statuses)

    def hang(self) -> None:
        self.holding.set()

    def release(self) -> None:
        self.released.set()

    def deliveries(self, webhook_type: str | None = None) -> list[Delivery]:
        with self.changed:
            return [d for d in self.received if webhook_type is None or d.type == webhook_type]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; received {[d.type for d in self.received]}")
                self.changed.wait(min(left, 0.2))

    def one(self, webhook_type: str, timeout: float = 20.0) -> Delivery:
        """The single delivery of `webhook_type`, once it arrived."""
        self.wait_for(lambda: bool(self.deliveries(webhook_type)), f"a {webhook_type} delivery", timeout)
        found = self.deliveries(webhook_type)
        assert len(found) == 1, f"{len(found)} {webhook_type} deliveries"
        return found[0]
