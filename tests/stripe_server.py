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

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
