"""localstripe, a stateful Stripe-compatible server, as a subprocess on a free loopback port: what the Stripe adapter's
tests charge cards against. No mock: the adapter speaks HTTP to a server that keeps customers, payment methods,
PaymentIntents and refunds, declines the test cards Stripe documents, and keeps its state across a restart.

Run as a script (`python stripe_server.py --port N --state FILE`) it starts localstripe with two changes, each to
make it behave as Stripe's documentation says rather than to make a test pass:

- its state lives in FILE rather than in the fixed /tmp/localstripe.pickle, so that two test sessions (or two
  helpers on one machine) never read each other's objects;
- `GET /v1/payment_intents` takes the `customer` filter Stripe documents (localstripe 1.15.4 answers 400 to it):
  recur looks an attempt up among its customer's PaymentIntents before charging, as it would at Stripe.
"""

from __future__ import annotations

import http.client
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

TEST_API_KEY = "sk_test_recur_localstripe"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStripe:
    """One localstripe process; `stop` kills it by PID (like a crash), `start` brings it back on the same port and state."""

    def __init__(self, state_file: Path, log_file: Path) -> None:
        self.port = free_port()
        self.state_file = state_file
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalStripe:
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--port", str(self.port), "--state", str(self.state_file)],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self.process.returncode}: see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"localstripe did not answer on {self.url} within {timeout:.0f}s: see {self.log_file}")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        request = urllib.request.Request(f"{self.url}/v1/customers?limit=1", headers={"Authorization": f"Bearer {TEST_API_KEY}"})
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class LossyLink:
    """A loopback HTTP relay between recur and localstripe that can lose one answer: the request reaches the server,
    which acts on it, and its answer is held until recur has given up waiting (its read timeout), then the connection
    is dropped. That is the charge whose outcome recur cannot know: made at Stripe, unheard of at recur."""

    def __init__(self, target: str) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.armed: tuple[str, str] | None = None
        self.released = threading.Event()
        self.lost: list[str] = []
        link = self

        class Relay(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                link.forward(self)

            def do_POST(self) -> None:  # noqa: N802
                link.forward(self)

            def do_DELETE(self) -> None:  # noqa: N802
                link.forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.thread = threading.Thread(target=self.server.serve_forever, name="lossy-link", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def lose_next_answer(self, method: str, path: str) -> None:
        self.armed = (method, path)

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(self.target.hostname or "127.0.0.1", self.target.port or 80, timeout=30)
        headers = {name: value for name, value in handler.headers.items() if name.lower() not in ("host", "connection")}
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        upstream.close()
        if self.armed == (handler.command, urllib.parse.urlsplit(handler.path).path):
            self.armed = None
            self.lost.append(handler.path)
            self.released.wait(timeout=10)  # recur times out meanwhile; then the connection drops with no answer
            handler.close_connection = True
            return
        handler.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def serve(port: int, state_file: Path) -> None:
    """localstripe's own `start()`, with its state in `state_file` and the PaymentIntent list's `customer` filter."""
    sys.argv = [sys.argv[0], "--port", str(port)]
    from localstripe import resources, server

    def load(store: Any) -> None:
        if state_file.exists():
            store.clear()
            store.update(pickle.loads(state_file.read_bytes()))

    def dump(store: Any) -> None:
        # Written whole to a side file, then renamed: a kill mid-write leaves the previous state, not half of one.
        partial = state_file.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(dict(store), protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(state_file)

    def list_payment_intents(cls: Any, url: str, customer: str | None = None, limit: Any = None,
                             starting_after: str | None = None) -> Any:
        listing = resources.StripeObject._api_list_all.__func__(cls, url, limit=limit, starting_after=starting_after)
        if customer is not None:
            listing._list = [intent for intent in listing._list if intent.customer == customer]
        return listing

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    resources.PaymentIntent._api_list_all = classmethod(list_payment_intents)
    server.start()


if __name__ == "__main__":
    arguments = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=True))
    serve(int(arguments["--port"]), Path(arguments["--state"]))
