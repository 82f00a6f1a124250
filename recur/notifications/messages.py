"""The e-mails recur sends, composed whole: subject, MIME message and headers, in the recipient's language.

The outbox keeps these bytes and a sender adds only From, so everything a retry must repeat exactly is decided
here, from the decision alone: Date is the billing clock's time of the decision (not the time of rendering or
sending), and Message-ID is derived from the decision's key, so rendering the same decision twice gives the
same message. Wording lives in the templates (`templates/<locale>/`), figures in `formatting`.
"""

from __future__ import annotations

import email.policy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from recur.notifications.rendering import render

LOCALES = ("pt-BR", "en")

# What each kind's templates read: compose refuses a context without all of them, so a value a template only
# reads on one branch (the next retry, a cancellation reason) is still required on every call.
SUBSCRIBER_KEYS = frozenset({"subscriber_name", "producer_name", "product_name", "plan_name", "subscription_code", "payment_method"})
CONTEXT_KEYS: Mapping[str, frozenset[str]] = {
    "renewal_reminder": SUBSCRIBER_KEYS | {"renews_at", "amount", "installments", "days_before"},
    "trial_ending": SUBSCRIBER_KEYS | {"trial_ends_at", "amount"},
    "payment_receipt": SUBSCRIBER_KEYS | {"amount", "paid_at", "installment", "installments", "charge_id"},
    "charge_failed": SUBSCRIBER_KEYS | {"amount", "reason", "failed_at", "next_retry_at", "waiting_for_new_payment_method"},
    "retries_exhausted": SUBSCRIBER_KEYS | {"amount", "attempts", "at"},
    "boleto_issued": SUBSCRIBER_KEYS | {"amount", "due_date", "line", "installment", "installments"},
    "cancelled": SUBSCRIBER_KEYS | {"cancelled_at", "origin", "reason"},
    "refund": SUBSCRIBER_KEYS | {"amount", "refunded_at", "charge_id"},
    "report": frozenset({"producer_name", "report", "frequency", "period_start", "period_end", "time_zone", "rows", "format"}),
    "webhook_endpoint_disabled": frozenset({"producer_name", "endpoint_url", "endpoint_id", "failing_since", "disabled_at"}),
}
KINDS = tuple(CONTEXT_KEYS)
# Each kind has these three templates in every locale.
TEMPLATE_SUFFIXES = (".subject.txt", ".txt", ".html")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/csv" or the xlsx type
    content: bytes


@dataclass(frozen=True)
class Rendered:
    subject: str
    message: bytes  # the whole MIME message (policy=email.policy.SMTP), without a From header


def locale_for(country: str | None) -> str:
    """Subscribers in Brazil read Portuguese; everyone else, English."""
    return "pt-BR" if country is not None and country.strip().upper() == "BR" else "en"


def message_id(message_key: str) -> str:
    """The same decision always gets the same Message-ID, so a resent message is recognisably the same one."""
    return f"<{digest(message_key)}@recur>"


def digest(message_key: str) -> str:
    return hashlib.sha256(message_key.encode()).hexdigest()[:32]


def compose(
    kind: str,
    locale: str,
    to_name: str | None,
    to_email: str,
    context: Mapping[str, Any],
    *,
    decided_at: datetime,
    message_key: str,
    attachments: Sequence[Attachment] = (),
) -> Rendered:
    """Render one message of `kind` in `locale` to one recipient. Unknown kinds, locales or missing context
    values raise ValueError; a template reading a value that is not there raises jinja2's UndefinedError."""
    if kind not in CONTEXT_KEYS:
        raise ValueError(f"no such kind of e-mail: {kind!r}")
    if locale not in LOCALES:
        raise ValueError(f"no templates for locale {locale!r}; known: {', '.join(LOCALES)}")
    missing = CONTEXT_KEYS[kind] - context.keys()
    if missing:
        raise ValueError(f"{kind} needs {', '.join(sorted(missing))} in its context")
    if decided_at.tzinfo is None or decided_at.utcoffset() is None:
        raise ValueError("decided_at must be timezone-aware")
    values = dict(context)
    subject = one_line(render(locale, f"{kind}.subject.txt", values))
    message = EmailMessage(policy=email.policy.SMTP)
    # An Address, not email.utils.formataddr: the policy re-parses formataddr's string, and a non-ASCII name
    # with a comma ("Zoë, someone@else.example") came back as two recipients.
    message["To"] = Address(display_name=one_line(to_name or ""), addr_spec=ascii_address(to_email))
    message["Subject"] = subject
    message["Date"] = format_datetime(decided_at.astimezone(UTC))
    message["Message-ID"] = message_id(message_key)
    message["X-Recur-Kind"] = kind
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps every line 7-bit and short, whatever the SMTP server says about 8BITMIME.
    message.set_content(render(locale, f"{kind}.txt", values), subtype="plain", cte="quoted-printable")
    message.add_alternative(render(locale, f"{kind}.html", values), subtype="html", cte="quoted-printable")
    for attachment in attachments:
        maintype, slash, subtype = attachment.content_type.partition("/")
        if not (maintype and slash and subtype):
            raise ValueError(f"not a MIME content type: {attachment.content_type!r}")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    # Last: setting the body clears every Content-* header, and adding an attachment moves them into a part.
    message["Content-Language"] = locale
    fix_boundaries(message, message_key)
    return Rendered(subject, message.as_bytes())


def fix_boundaries(message: EmailMessage, message_key: str) -> None:
    """Multipart boundaries from the decision's key rather than at random, so the same decision renders to the
    same bytes. "=_" cannot occur in quoted-printable or base64 text, which is all the parts are encoded in."""
    for number, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"=_{digest(message_key)}.{number}")


def ascii_address(address: str) -> str:
    """An address a plain SMTP server accepts in a header: an internationalized domain in its ASCII (IDNA)
    form, which the header would otherwise carry as an invalid encoded word. A non-ASCII mailbox name needs
    SMTPUTF8, which recur does not use: refused here rather than sent garbled."""
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        raise ValueError("not an e-mail address")
    if not local.isascii():
        raise ValueError("a mailbox name outside ASCII needs SMTPUTF8, which recur does not use")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise ValueError("not a valid e-mail domain") from None


def one_line(text: str) -> str:
    """Headers are one line: a name or subject with a line break (typed by someone, or a template's last
    newline) would otherwise be refused, or worse, start a header of its own. Other spacing is kept: Babel
    writes R$ 19,90 with a no-break space."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
