"""Handing a message to an SMTP server (RECUR_SMTP_URL), and telling a failure worth retrying from one that is not.

The sender loop needs one thing from SMTP: did the server take the message, and if not, will trying again later
help? `SmtpTransport.send` answers with nothing, a `TemporaryMailError` (4xx replies, refused or reset
connections, timeouts, a server that hung up: the message stays pending) or a `PermanentMailError` (5xx replies,
a recipient refused with 5xx, an address that is not one: retrying sends the same bytes to the same answer).
`MailConfigurationError` is the permanent kind that is not about the message but about the set-up (a URL that is
not one, credentials refused or about to travel in clear text, a certificate that cannot be verified): every
message would fail the same way until an operator acts, so a sender should keep the message pending and say so
loudly rather than mark it failed.

The recipient's address is personal data: no error text carries it (server replies often quote it; it is
replaced by `<recipient>`, and anything else that looks like an address by `<address>`), errors are raised
without their smtplib cause (whose text and arguments hold the addresses), and nothing here logs.

URL forms (user and password percent-decoded):
- `smtp://[user:password@]host[:port]`, port 25 by default (IANA's port for the scheme, as curl and most mail
  libraries read it; write `:587` for a submission service). STARTTLS is used whenever the server offers it,
  verifying the certificate against the system's authorities. Credentials are sent only over TLS, or in clear
  text to a server on a loopback address (the connection never leaves the machine); otherwise sending refuses
  with a `MailConfigurationError` before the password leaves.
- `smtps://[user:password@]host[:port]`, implicit TLS from the first byte, port 465 by default.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": 25, "smtps": 465}
DEFAULT_TIMEOUT = 30.0  # seconds per socket operation: a stuck server delays one message, not the sender forever
MAX_TEXT = 300
MAX_ADDRESS_LENGTH = 254  # RFC 5321's path limit, less the angle brackets
ACCEPTED = (250, 251)

# RFC 5322 addr-spec, as mail servers take it: a dot-atom or quoted local part, a domain of labels or an
# address literal. UTF-8 is allowed (RFC 6531); whether the server takes it is checked when sending.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LOCAL = rf'(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\\r\n]|\\[^\r\n])*")'
_LABEL = r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]*[A-Za-z0-9\u0080-\U0010ffff])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[A-Za-z0-9.:]+\])"
ADDR_SPEC = re.compile(rf"({_LOCAL})@({_DOMAIN})")
NAMED = re.compile(r'[^<>]*<([^<>]*)>')  # `Name <address>`, as RECUR_MAIL_FROM is written
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ADDRESS_LIKE = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")
LINE_ENDS = re.compile(rb"\r\n|\r|\n")


class MailError(Exception):
    """A message the SMTP server did not take. `text` is short, says what happened, and holds no recipient address."""

    @property
    def text(self) -> str:
        return str(self)


class TemporaryMailError(MailError):
    """Worth trying again later: the server asked to (4xx), or could not be reached or talked to."""


class PermanentMailError(MailError):
    """Trying again sends the same bytes to the same answer: a 5xx reply, or an address that is not one."""


class MailConfigurationError(PermanentMailError):
    """The set-up, not the message, is wrong (RECUR_SMTP_URL, RECUR_MAIL_FROM, credentials, TLS): every message would
    fail alike until an operator acts."""


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where RECUR_SMTP_URL points, decoded once."""

    implicit_tls: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def redacted_url(self) -> str:
        """The URL without its password, for logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """RECUR_SMTP_URL decoded, or a MailConfigurationError saying what is wrong with it (never echoing a password)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError:
        raise MailConfigurationError("RECUR_SMTP_URL is not a URL of the form smtp://[user:password@]host[:port]") from None
    if scheme not in SCHEMES:
        raise MailConfigurationError(
            f"RECUR_SMTP_URL must start with smtp:// (STARTTLS when offered) or smtps:// (implicit TLS), not {scheme or 'nothing'}://"
            if "://" in url else "RECUR_SMTP_URL must be a URL starting with smtp:// or smtps://")
    if not parts.hostname:
        raise MailConfigurationError("RECUR_SMTP_URL names no host: smtp://[user:password@]host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MailConfigurationError("RECUR_SMTP_URL takes no path, query or fragment: smtp://[user:password@]host[:port]")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise MailConfigurationError("RECUR_SMTP_URL has a password but no user name")
    if port == 0:
        raise MailConfigurationError("RECUR_SMTP_URL names port 0")
    return SmtpEndpoint(scheme == "smtps", parts.hostname, SCHEMES[scheme] if port is None else port, username or None,
                        password if username else None)


@dataclass(frozen=True)
class EnvelopeAddress:
    """An address as SMTP commands carry it: the domain in IDNA when only the domain is not ASCII."""

    address: str
    needs_smtputf8: bool  # the local part is not ASCII: only a server offering SMTPUTF8 takes it


def envelope_address(text: str) -> EnvelopeAddress | None:
    """The addr-spec of a bare address or of `Name <address>`; None when it is not an address (a line break or any
    other control character included: it would smuggle SMTP commands)."""
    text = text.strip()
    if CONTROL.search(text):
        return None
    named = NAMED.fullmatch(text)
    if named:
        text = named[1]
    match = ADDR_SPEC.fullmatch(text) if len(text) <= MAX_ADDRESS_LENGTH else None
    if match is None:
        return None
    local, domain = match.groups()
    if not domain.isascii() and local.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    address = f"{local}@{domain}"
    return EnvelopeAddress(address, not address.isascii())


def redact(reply: bytes | str, recipient: str) -> str:
    """A server's reply made fit for a log or an outbox row: one line, short, no recipient address in it."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    if recipient:
        text = re.sub("<?" + re.escape(recipient) + ">?", "<recipient>", text, flags=re.IGNORECASE)
    text = ADDRESS_LIKE.sub("<address>", text)
    return text[:MAX_TEXT]


def refusal(stage: str, code: int, reply: bytes | str, recipient: str, configuration: bool = False) -> MailError:
    """The error for an SMTP reply: 4xx is temporary, 5xx permanent (about the set-up when `configuration`)."""
    text = f"{stage}: {code} {redact(reply, recipient)}".strip()
    if 500 <= code < 600:
        return MailConfigurationError(text) if configuration else PermanentMailError(text)
    return TemporaryMailError(text)  # 4xx, and the -1 smtplib gives a reply it could not read


def is_loopback(connection: smtplib.SMTP) -> bool:
    """Whether the server connected to is on this machine: judged by the address really connected to, not the name."""
    try:
        peer = connection.sock.getpeername()[0]
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except (AttributeError, OSError, ValueError):
        return False


class SmtpTransport:
    """One connection to the SMTP server, opened on first use and reused across messages (checked with NOOP first,
    opened again when the server closed it). Safe to share between threads: sends take turns."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        """`ssl_context` verifies the server (default: the system's authorities, host name checked); tests pass one
        trusting their own certificate. Raises MailConfigurationError for a URL that is not an SMTP one."""
        self.endpoint = parse_smtp_url(url)
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._connection: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ sending
    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand `message` (the whole MIME message, headers included) to the server for `recipient`, with `sender` as
        the envelope sender (a bare address or `Name <address>`, as RECUR_MAIL_FROM is). Returns once the server
        accepted it; raises TemporaryMailError or PermanentMailError otherwise."""
        to = envelope_address(recipient)
        if to is None:
            raise PermanentMailError("the recipient's address is not a valid e-mail address")
        sender_address = envelope_address(sender)
        if sender_address is None:
            raise MailConfigurationError("the sender's address (RECUR_MAIL_FROM) is not a valid e-mail address")
        data = LINE_ENDS.sub(b"\r\n", message)  # bare LFs are refused by servers guarding against SMTP smuggling
        with self._lock:
            try:
                self._transaction(sender_address, to, data, recipient)
            except MailError:
                raise
            except smtplib.SMTPServerDisconnected as error:
                self._drop()
                if isinstance(error.__context__, TimeoutError):  # smtplib reports a read that timed out so
                    raise TemporaryMailError("the SMTP server did not answer in time") from None
                raise TemporaryMailError("the SMTP server closed the connection") from None
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                raise failure(error, recipient) from None

    def _transaction(self, sender: EnvelopeAddress, to: EnvelopeAddress, data: bytes, recipient: str) -> None:
        connection = self._connected()
        options = []
        if sender.needs_smtputf8 or to.needs_smtputf8:
            if not connection.has_extn("smtputf8"):
                self._reset(connection)
                raise PermanentMailError("an address is not ASCII and the SMTP server does not offer SMTPUTF8")
            options.append("SMTPUTF8")
        if not data.isascii() and connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        code, reply = connection.mail(sender.address, options)
        if code != 250:
            self._after_refusal(connection, code)
            raise refusal("MAIL FROM refused", code, reply, recipient)
        code, reply = connection.rcpt(to.address)
        if code not in ACCEPTED:
            self._after_refusal(connection, code)
            raise refusal("recipient refused", code, reply, recipient)
        try:
            code, reply = connection.data(data)
        except smtplib.SMTPDataError as error:  # DATA itself refused (no 354)
            self._after_refusal(connection, error.smtp_code)
            raise refusal("DATA refused", error.smtp_code, error.smtp_error, recipient) from None
        if code != 250:
            self._after_refusal(connection, code)
            raise refusal("message refused", code, reply, recipient)

    def _after_refusal(self, connection: smtplib.SMTP, code: int) -> None:
        """A refused transaction leaves a usable connection, once reset; 421 means the server is closing it."""
        if code == 421:
            self._drop()
        else:
            self._reset(connection)

    def _reset(self, connection: smtplib.SMTP) -> None:
        try:
            if connection.rset()[0] == 250:
                return
        except (smtplib.SMTPException, OSError):
            pass
        self._drop()

    # ------------------------------------------------------------------ the connection
    def _connected(self) -> smtplib.SMTP:
        """The open connection if the server still answers on it, else a new one."""
        if self._connection is not None:
            try:
                if self._connection.noop()[0] == 250:
                    return self._connection
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self._connection = self._connect()
        return self._connection

    def _connect(self) -> smtplib.SMTP:
        endpoint = self.endpoint
        context = self.ssl_context or ssl.create_default_context()
        connection: smtplib.SMTP
        try:
            if endpoint.implicit_tls:
                connection = smtplib.SMTP_SSL(endpoint.host, endpoint.port, self.local_hostname, timeout=self.timeout, context=context)
            else:
                connection = smtplib.SMTP(endpoint.host, endpoint.port, self.local_hostname, timeout=self.timeout)
        except smtplib.SMTPConnectError as error:  # the greeting was not 220
            raise refusal("the SMTP server refused the connection", error.smtp_code, error.smtp_error, "", configuration=True) from None
        try:
            self._introduce(connection, context)
        except BaseException:
            connection.close()
            raise
        return connection

    def _introduce(self, connection: smtplib.SMTP, context: ssl.SSLContext) -> None:
        """EHLO, STARTTLS when offered, then the credentials: only over TLS or to this very machine."""
        endpoint = self.endpoint
        code, reply = connection.ehlo()
        if code != 250:
            code, reply = connection.helo()
            if code != 250:
                raise refusal("HELO refused", code, reply, "", configuration=True)
        secure = endpoint.implicit_tls
        if not secure and connection.has_extn("starttls"):
            code, reply = connection.starttls(context=context)
            if code != 220:
                raise refusal("STARTTLS refused", code, reply, "", configuration=True)
            connection.ehlo()
            secure = True
        if endpoint.username is None:
            return
        if not secure and not is_loopback(connection):
            raise MailConfigurationError(
                f"refusing to send the SMTP credentials in clear text: {endpoint.host} offers no STARTTLS; "
                "use smtps:// or a server that offers STARTTLS")
        try:
            connection.login(endpoint.username, endpoint.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise refusal("the SMTP server refused the credentials", error.smtp_code, error.smtp_error, "",
                          configuration=True) from None
        except smtplib.SMTPNotSupportedError:
            raise MailConfigurationError("RECUR_SMTP_URL has credentials but the SMTP server offers no AUTH") from None
        except smtplib.SMTPException as error:  # no mechanism both sides know
            raise MailConfigurationError(f"could not authenticate: {redact(str(error), '')}") from None

    def _drop(self) -> None:
        """Forget the connection without a word to the server (it may be gone already)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """QUIT politely and close; the next send opens a new connection."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmtpTransport({self.endpoint.redacted_url})"


def failure(error: smtplib.SMTPException | OSError, recipient: str) -> MailError:
    """What an exception from smtplib or the socket means for the message."""
    if isinstance(error, smtplib.SMTPResponseException):  # a reply with a code (HELO, STARTTLS, ...)
        return refusal("the SMTP server refused", error.smtp_code, error.smtp_error, recipient, configuration=True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return MailConfigurationError(f"the SMTP server's TLS certificate could not be verified: {error.verify_message}")
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return TemporaryMailError("the SMTP server closed the connection during TLS")
    if isinstance(error, ssl.SSLError):  # a protocol mismatch: smtps:// to a plain-text port, say
        return MailConfigurationError(f"TLS with the SMTP server failed ({error.reason or 'unknown reason'}): "
                                      "is the port one for smtps:// (implicit TLS) or smtp:// (STARTTLS)?")
    if isinstance(error, socket.gaierror):
        return TemporaryMailError("the SMTP server's host name could not be resolved")
    if isinstance(error, TimeoutError):
        return TemporaryMailError("the SMTP server did not answer in time")
    if isinstance(error, ConnectionRefusedError):
        return TemporaryMailError("the SMTP server refused the connection (nothing listening?)")
    if isinstance(error, OSError):
        return TemporaryMailError(f"network error talking to the SMTP server: {error.strerror or type(error).__name__}")
    return TemporaryMailError(f"SMTP error: {redact(str(error), recipient)}")
