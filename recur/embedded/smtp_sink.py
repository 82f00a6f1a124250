"""A local SMTP server that keeps every message it receives in the `sandbox_mailbox` table, for `recur up` without
RECUR_SMTP_URL and for the tests.

It is a real SMTP server (aiosmtpd, in a thread of the process that starts it) on a loopback address, so recur's
sender speaks to it exactly as to a production server; `GET /v1/sandbox/outbox/emails` lists what it stored. A
message is answered 250 only once its row is committed, and 451 (try again later) when the database cannot take it,
so nothing is acknowledged and lost. It keeps the envelope (sender, recipients), the kind recur wrote in
`X-Recur-Kind`, the decoded subject and the raw bytes; parsing the rest is left to whoever reads it.

aiosmtpd logs every command and address at INFO on the `mail.log` logger; addresses are personal data, so starting
a sink raises that logger to WARNING.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from recur.db import Database, storable_text

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
KIND_HEADER = "X-Recur-Kind"
MAX_SUBJECT = 998  # RFC 5322's longest line
MAX_KIND = 100
STORED = "250 2.0.0 OK: kept in the sandbox mailbox"
NOT_STORED = "451 4.3.0 the sandbox mailbox cannot store messages right now; try again later"


def subject_and_kind(message: bytes) -> tuple[str | None, str | None]:
    """The decoded Subject and the X-Recur-Kind header of a message; None for either when absent or unreadable."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(message)
        subject, kind = headers.get("Subject"), headers.get(KIND_HEADER)
        return (storable_text(str(subject), MAX_SUBJECT) if subject is not None else None,
                storable_text(str(kind).strip(), MAX_KIND) if kind is not None else None)
    except Exception:  # noqa: BLE001 - a header nobody can decode leaves the column empty; the raw bytes keep it
        return None, None


class MailboxHandler:
    """aiosmtpd's handler: DATA stores the message, in a worker thread so the server keeps serving meanwhile."""

    def __init__(self, database_url: str) -> None:
        self.db = Database(database_url, size=1)

    def store(self, mail_from: str, recipients: list[str], message: bytes) -> int:
        subject, kind = subject_and_kind(message)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO sandbox_mailbox (mail_from, recipients, kind, subject, message) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (storable_text(mail_from), [storable_text(r) for r in recipients], kind, subject, message),
            )
            return int(cur.fetchone()[0])

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        message = envelope.original_content or b""
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.store, envelope.mail_from or "", list(envelope.rcpt_tos), message)
        except Exception as error:  # noqa: BLE001 - the client is told to retry; never the addresses in a log line
            log.warning("the SMTP sink could not store a message (%s); answered 451", type(error).__name__)
            return NOT_STORED
        return STORED

    def close(self) -> None:
        self.db.close()


class AnyPortController(Controller):
    """aiosmtpd's threaded controller, able to listen on a port the kernel picks (port 0): `port` is the real one once
    started. The tests' own SMTP servers use it too."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


@dataclass
class SmtpSink:
    """A running sink; `url` is what RECUR_SMTP_URL should be for recur to send to it."""

    controller: Controller
    handler: MailboxHandler
    running: bool = True

    @property
    def host(self) -> str:
        return str(self.controller.hostname)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop listening, drop open sessions and close the database pool. Idempotent."""
        if self.running:
            self.running = False
            self.controller.stop()
            self.handler.close()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def start_smtp_sink(database_url: str, port: int = 0, host: str = HOST) -> SmtpSink:
    """Listen on `host:port` (a free port when 0) and return once the server answers."""
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLogger("mail.log").getEffectiveLevel()))
    handler = MailboxHandler(database_url)
    controller = AnyPortController(handler, hostname=host, port=port, server_hostname="recur-sandbox-sink",
                                   ident="recur sandbox SMTP sink")
    try:
        controller.start()
    except BaseException:
        handler.close()
        raise
    log.debug("SMTP sink listening on %s:%d", host, controller.port)
    return SmtpSink(controller, handler)
