"""A real SMTP server in the test process (aiosmtpd) that keeps what it receives, for the e-mail tests.

It can refuse for a while (a 4xx reply, as a server under load or greylisting answers) or for good (5xx),
so tests see how recur's sender behaves against what real servers do. Tests wait for messages with a
deadline on a condition variable, never a sleep.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

# recur's sender waits this long after a refusal in the tests (RetryDelays), so that a test of a server
# refusing for a while takes a second, not hours.
TEST_RETRY_DELAYS = {"first": 0.2, "longest": 1.0}


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[assignment]
        return parsed

    @property
    def kind(self) -> str:
        return str(self.message["X-Recur-Kind"])


class MailCatcher:
    """The aiosmtpd handler: keeps every accepted message; refuses the next `refusals` with `refusal_reply`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusals = 0
        self.refusal_reply = "451 4.3.0 try again later"
        self.refused = 0
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            if self.refusals > 0:
                self.refusals -= 1
                self.refused += 1
                self.changed.notify_all()
                return self.refusal_reply
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)))
            self.changed.notify_all()
        return "250 OK"

    def refuse_next(self, count: int, reply: str = "451 4.3.0 try again later") -> None:
        with self.changed:
            self.refusals, self.refusal_reply = count, reply

    def to(self, address: str, kind: str | None = None) -> list[Received]:
        with self.changed:
            return [m for m in self.received if address in m.recipients and (kind is None or m.kind == kind)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0, what: str = "the expected e-mail") -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.changed.wait(min(left, 0.2))

    def one(self, address: str, kind: str, timeout: float = 20.0) -> Received:
        """The single message of `kind` to `address`, once it arrived."""
        self.wait_for(lambda: bool(self.to(address, kind)), timeout, f"a {kind} e-mail to {address}")
        found = self.to(address, kind)
        assert len(found) == 1, f"{len(found)} {kind} e-mails to {address}"
        return found[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MailServer:
    def __init__(self) -> None:
        self.catcher = MailCatcher()
        # aiosmtpd checks that it is up by connecting to the port it was given: it needs a real one.
        self.controller = Controller(self.catcher, hostname="127.0.0.1", port=free_port())

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def to(self, address: str, kind: str | None = None) -> list[Received]:
        return self.catcher.to(address, kind)

    def one(self, address: str, kind: str, timeout: float = 20.0) -> Received:
        return self.catcher.one(address, kind, timeout)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    def stop(self) -> None:
        self.controller.stop()
