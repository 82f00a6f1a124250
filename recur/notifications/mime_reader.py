"""Reading a MIME message back: when it says it was written, who it is from, its attachments and its bodies.

The sandbox outbox shows what the local SMTP sink received as a client would see it, so it reads the very bytes
that went over SMTP rather than anything recur kept about them. Whatever arrives is read without raising: the sink
takes messages from anyone on the machine, and one malformed message must not break the list it sits in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import cast


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # bytes once the transfer encoding (base64, quoted-printable) is undone


@dataclass(frozen=True)
class ReadMessage:
    sent_at: datetime | None  # the Date header: when the sender wrote it (recur: its clock's time when it decided)
    sender: str | None  # the From header, decoded
    attachments: list[Attachment]
    text: str | None  # the text/plain body
    html: str | None  # the text/html body


def read_message(raw: bytes) -> ReadMessage:
    try:
        message = cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))  # so it is, with policy.default
    except Exception:  # noqa: BLE001 - the parser tolerates almost anything; what it does not is an empty message
        return ReadMessage(None, None, [], None, None)
    return ReadMessage(date_of(message), header(message, "From"), attachments_of(message), body(message, "plain"),
                       body(message, "html"))


def header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
        return None if value is None else str(value)
    except Exception:  # noqa: BLE001 - an undecodable header reads as absent
        return None


def date_of(message: EmailMessage) -> datetime | None:
    raw = header(message, "Date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def is_attachment(part: EmailMessage) -> bool:
    """Declared an attachment, or a named leaf part not declared inline (an image shown in the HTML is not one)."""
    disposition = part.get_content_disposition()
    return disposition == "attachment" or (disposition is None and part.get_filename() is not None)


def attachments_of(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            if is_attachment(part):  # type: ignore[arg-type]
                payload = part.get_payload(decode=True)
                size = len(payload) if isinstance(payload, bytes) else 0
                found.append(Attachment(part.get_filename(), part.get_content_type(), size))
        except Exception:  # noqa: BLE001, S112 - a part that cannot be read is left out, the others listed
            continue
    return found


def body(message: EmailMessage, subtype: str) -> str | None:
    """The text/`subtype` part a mail client would show (not an attachment), decoded; None when there is none."""
    try:
        part = message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_type() != f"text/{subtype}":
            return None
        try:
            content = part.get_content()
            return content if isinstance(content, str) else None
        except (LookupError, UnicodeError):  # an unknown or wrong charset: show what can be shown
            payload = part.get_payload(decode=True)
            return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    except Exception:  # noqa: BLE001 - a body that cannot be found is absent
        return None
