"""The sender: hands the outbox's pending messages to the SMTP server, one at a time, and records the outcome.

Each message is taken under a row lock (SKIP LOCKED: several senders never take the same one) in a
transaction that also records what the server said, so a message is marked sent only once the server
accepted it. A refusal for now (4xx, server down, timeout) keeps the message and tries again later with
a doubling, jittered delay (capped at `longest_wait`): an SMTP server down for hours delays mail and loses
none. A permanent refusal (5xx, an address the server rejects) is recorded as failed, with the server's
reason (the address blanked out), for `recur notifications status` and the metrics.

The one window left: the server accepted a message and the process died before the commit. The message
is then sent again, with the same Message-ID, which mail clients use to drop the copy.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from typing import Protocol

from recur.db import Database, storable_text
from recur.notifications.smtp import MailConfigurationError, PermanentMailError, TemporaryMailError

log = logging.getLogger(__name__)


class MailTransport(Protocol):
    """What the sender needs of an SMTP connection (recur.notifications.smtp.SmtpTransport)."""

    def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed


@dataclass(frozen=True)
class RetryDelays:
    """How long a message refused for now waits: `first` seconds, doubling per attempt up to `longest`,
    each spread by +-50% so that a server back from an outage is not hit by every message at once."""

    first: float = 30.0
    longest: float = 3600.0

    def after(self, attempts: int, spread: Callable[[], float] = random.random) -> float:
        return min(self.longest, self.first * 2 ** max(attempts - 1, 0)) * (0.5 + spread())


def from_header(mail_from: str, display_name: str | None) -> bytes:
    """The From header line for RECUR_MAIL_FROM, with `display_name` (the producer's) when given, encoded
    as RFC 2047 asks for names beyond ASCII."""
    configured_name, address = parseaddr(mail_from)
    username, _, domain = address.partition("@")
    header = EmailMessage(policy=SMTP)
    header["From"] = Address(display_name or configured_name, username, domain)
    return header.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


class OutboxSender:
    def __init__(self, db: Database, transport: MailTransport, mail_from: str, delays: RetryDelays | None = None) -> None:
        self.db = db
        self.transport = transport
        self.mail_from = mail_from
        self.envelope_sender = parseaddr(mail_from)[1]
        self.delays = delays or RetryDelays()

    def send_due(self, limit: int = 100) -> SendReport:
        """Send up to `limit` messages whose time has come; stops early when none is left."""
        report = SendReport()
        while report.handled < limit and self._send_one(report):
            pass
        return report

    def _send_one(self, report: SendReport) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT id, kind, recipient, sender_name, message, attempts FROM email_outbox WHERE status = 'pending' "
                "AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            row = cur.fetchone()
            if row is None:
                return False
            outbox_id, kind, recipient, sender_name, message, attempts = row
            attempts += 1
            try:
                self.transport.send(self.envelope_sender, recipient, from_header(self.mail_from, sender_name) + bytes(message))
            except (TemporaryMailError, MailConfigurationError) as error:
                # A setting of ours that is wrong (credentials refused, a certificate not trusted) is no fault of the
                # message: it waits, like a 4xx, until an operator fixes RECUR_SMTP_URL, and the log says so loudly.
                if isinstance(error, MailConfigurationError):
                    log.error("e-mail cannot be sent until RECUR_SMTP_URL or RECUR_MAIL_FROM is fixed: %s", error)
                wait = self.delays.after(attempts)
                cur.execute(
                    "UPDATE email_outbox SET attempts = %s, last_error = %s, last_attempt_at = now(), "
                    "next_attempt_at = now() + %s * interval '1 second' WHERE id = %s",
                    (attempts, storable_text(str(error)), wait, outbox_id),
                )
                report.deferred += 1
                log.warning("e-mail %d (%s) refused for now (%s); trying again in %.0fs", outbox_id, kind, error, wait)
                return True
            except PermanentMailError as error:
                cur.execute(
                    "UPDATE email_outbox SET status = 'failed', attempts = %s, last_error = %s, last_attempt_at = now() WHERE id = %s",
                    (attempts, storable_text(str(error)), outbox_id),
                )
                report.failed += 1
                log.error("e-mail %d (%s) refused for good: %s", outbox_id, kind, error)
                return True
            except Exception as error:  # noqa: BLE001 - a fault of ours must not spin on one message: it waits like a 4xx
                wait = self.delays.after(attempts)
                cur.execute(
                    "UPDATE email_outbox SET attempts = %s, last_error = %s, last_attempt_at = now(), "
                    "next_attempt_at = now() + %s * interval '1 second' WHERE id = %s",
                    (attempts, storable_text(f"{type(error).__name__}: {error}"), wait, outbox_id),
                )
                report.deferred += 1
                log.exception("e-mail %d (%s) could not be sent; trying again in %.0fs", outbox_id, kind, wait)
                return True
            cur.execute(
                "UPDATE email_outbox SET status = 'sent', attempts = %s, last_error = NULL, last_attempt_at = now(), sent_at = now() "
                "WHERE id = %s",
                (attempts, outbox_id),
            )
            report.sent += 1
            return True
