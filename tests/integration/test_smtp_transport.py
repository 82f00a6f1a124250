"""recur's SMTP transport against real SMTP servers (aiosmtpd, in this process): delivery over one reused connection,
reconnection, STARTTLS with credentials, implicit TLS, and every refusal classified as temporary or permanent with a
text that never holds the recipient's address."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from recur.embedded.smtp_sink import AnyPortController
from recur.notifications.smtp import MailConfigurationError, PermanentMailError, SmtpTransport, TemporaryMailError

SENDER = "recur <no-reply@recur.test>"
RECIPIENT = "Bia.Souza@example.com"
MESSAGE = b"From: no-reply@recur.test\r\nTo: Bia.Souza@example.com\r\nSubject: Hello\r\n\r\nYour receipt.\r\n"
USER, PASSWORD = "mailer@recur.test", "p@ss:w/rd%"
URL_CREDENTIALS = "mailer%40recur.test:p%40ss%3Aw%2Frd%25"  # the same, percent-encoded as a URL must carry them


@dataclass
class Answers:
    """An SMTP handler answering what the test sets (a full reply such as "451 4.3.0 busy"), keeping what it accepts."""

    rcpt: str | None = None
    data: str | None = None
    delivered: list[tuple[str, str, list[str], bytes]] = field(default_factory=list)  # (peer, from, to, bytes)
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:  # noqa: N802
        if self.rcpt:
            return self.rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data:
            return self.data
        self.delivered.append((str(session.peer), str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login)
        return AuthResult(success=data == (USER.encode(), PASSWORD.encode()), handled=False)

    def connections(self) -> int:
        return len({peer for peer, *_ in self.delivered})


@pytest.fixture
def server() -> Iterator[tuple[Answers, AnyPortController]]:
    answers = Answers()
    controller = AnyPortController(answers, hostname="127.0.0.1", port=0, server_hostname="test-mx")
    controller.start()
    yield answers, controller
    controller.stop()


def url_of(controller: AnyPortController, scheme: str = "smtp", credentials: str = "") -> str:
    return f"{scheme}://{credentials + '@' if credentials else ''}{controller.hostname}:{controller.port}"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return Certificate(folder / "cert.pem", folder / "key.pem")


def assert_no_address_in(error: Exception) -> None:
    """Neither the text nor a chained cause (which a logged traceback would print) holds the recipient's address."""
    assert RECIPIENT.lower() not in str(error).lower()
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


# ------------------------------------------------------------------ delivery and the connection
def test_messages_are_delivered_over_one_connection_with_the_envelope_asked_for(server: tuple[Answers, AnyPortController]) -> None:
    answers, controller = server
    with SmtpTransport(url_of(controller)) as transport:
        transport.send(SENDER, RECIPIENT, MESSAGE)
        transport.send(SENDER, "other@example.com", MESSAGE.replace(b"\r\n", b"\n"))

    assert [(sender, to) for _, sender, to, _ in answers.delivered] == [
        ("no-reply@recur.test", [RECIPIENT]), ("no-reply@recur.test", ["other@example.com"])]
    assert answers.delivered[0][3] == MESSAGE
    assert answers.delivered[1][3] == MESSAGE  # bare line feeds went out as CRLF
    assert answers.connections() == 1


def test_a_connection_the_server_closed_is_opened_again_without_an_error() -> None:
    answers = Answers()
    first = AnyPortController(answers, hostname="127.0.0.1", port=0)
    first.start()
    transport = SmtpTransport(url_of(first))
    transport.send(SENDER, RECIPIENT, MESSAGE)
    first.stop()  # every open session is dropped with it
    again = AnyPortController(answers, hostname="127.0.0.1", port=first.port)
    again.start()
    try:
        transport.send(SENDER, RECIPIENT, MESSAGE)
    finally:
        transport.close()
        again.stop()

    assert len(answers.delivered) == 2 and answers.connections() == 2


@pytest.mark.parametrize(("stage", "reply", "error"), [
    ("rcpt", "450 4.2.1 <Bia.Souza@example.com>: mailbox busy, try later", TemporaryMailError),
    ("rcpt", "550 5.1.1 <bia.souza@EXAMPLE.com>: Recipient address rejected: User unknown", PermanentMailError),
    ("data", "451 4.3.0 Bia.Souza@example.com: local error in processing", TemporaryMailError),
    ("data", "554 5.7.1 message to Bia.Souza@example.com refused as spam", PermanentMailError),
])
def test_a_refusal_is_temporary_for_4xx_and_permanent_for_5xx_and_never_names_the_recipient(
        server: tuple[Answers, AnyPortController], stage: str, reply: str, error: type[Exception]) -> None:
    answers, controller = server
    setattr(answers, stage, reply)
    with SmtpTransport(url_of(controller)) as transport:
        with pytest.raises(error) as refused:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert type(refused.value) is error  # a refusal of this message is not a configuration error
        assert_no_address_in(refused.value)
        assert reply[:3] in str(refused.value) and "<recipient>" in str(refused.value)

        setattr(answers, stage, None)
        transport.send(SENDER, RECIPIENT, MESSAGE)  # the connection was reset, and serves the next message

    assert len(answers.delivered) == 1 and answers.connections() == 1


@pytest.mark.parametrize("recipient", ["not an address", "bia@", "bia@example.com\r\nRCPT TO:<x@evil.test>", "", "a" * 250 + "@x.io"])
def test_an_address_that_is_not_one_is_a_permanent_error_without_a_word_to_the_server(
        server: tuple[Answers, AnyPortController], recipient: str) -> None:
    answers, controller = server
    with SmtpTransport(url_of(controller)) as transport, pytest.raises(PermanentMailError) as refused:
        transport.send(SENDER, recipient, MESSAGE)
    assert str(refused.value) == "the recipient's address is not a valid e-mail address"
    assert answers.delivered == []


def test_an_unreachable_server_and_a_silent_one_are_temporary_errors() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog, and nobody ever greets them
        port = silent.getsockname()[1]
        with SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=0.5) as transport, pytest.raises(TemporaryMailError) as waited:
            transport.send(SENDER, RECIPIENT, MESSAGE)
    assert "did not answer in time" in str(waited.value)

    with SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=2) as transport, pytest.raises(TemporaryMailError) as refused:
        transport.send(SENDER, RECIPIENT, MESSAGE)  # the port is closed now
    assert "refused the connection" in str(refused.value)
    assert_no_address_in(refused.value)


# ------------------------------------------------------------------ TLS and credentials
def test_credentials_go_over_starttls_when_the_server_offers_it(certificate: Certificate) -> None:
    answers = Answers()
    controller = AnyPortController(answers, hostname="127.0.0.1", port=0, tls_context=certificate.server_context(),
                                   require_starttls=True, authenticator=answers.authenticate, auth_require_tls=True)
    controller.start()
    try:
        url = url_of(controller, credentials=URL_CREDENTIALS)
        with SmtpTransport(url, ssl_context=certificate.client_context()) as transport:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert answers.logins == [USER.encode()]  # percent-decoded, and accepted (the server requires STARTTLS first)
        assert len(answers.delivered) == 1

        wrong = url_of(controller, credentials="mailer%40recur.test:wrong")
        with SmtpTransport(wrong, ssl_context=certificate.client_context()) as transport, pytest.raises(MailConfigurationError) as refused:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert str(refused.value).startswith("the SMTP server refused the credentials: 535")

        with SmtpTransport(url) as transport, pytest.raises(MailConfigurationError) as untrusted:  # the system's authorities
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert "certificate could not be verified" in str(untrusted.value)
        assert len(answers.delivered) == 1
    finally:
        controller.stop()


def test_smtps_speaks_tls_from_the_first_byte(certificate: Certificate) -> None:
    answers = Answers()
    # aiosmtpd offers AUTH under implicit TLS only when told TLS is not required (it knows only its own STARTTLS)
    controller = AnyPortController(answers, hostname="127.0.0.1", port=0, ssl_context=certificate.server_context(),
                                   authenticator=answers.authenticate, auth_require_tls=False)
    controller.start()
    try:
        with SmtpTransport(url_of(controller, "smtps", URL_CREDENTIALS), ssl_context=certificate.client_context()) as transport:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert answers.logins == [USER.encode()] and len(answers.delivered) == 1

        with SmtpTransport(url_of(controller, "smtp"), timeout=0.5) as transport, pytest.raises(TemporaryMailError) as silent:
            transport.send(SENDER, RECIPIENT, MESSAGE)  # plain SMTP to a TLS port: the server waits for TLS, greeting nobody
        assert "did not answer in time" in str(silent.value)
    finally:
        controller.stop()


def non_loopback_address() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not ipaddress.ip_address(address.address).is_loopback:
                return str(address.address)
    return None


def test_credentials_are_never_sent_in_clear_text_to_another_machine_but_may_be_to_this_one() -> None:
    elsewhere = non_loopback_address()
    if elsewhere is None:
        pytest.skip("this machine has no address but loopback ones to stand for another machine")
    answers = Answers()
    controller = AnyPortController(answers, hostname=elsewhere, port=0, authenticator=answers.authenticate, auth_require_tls=False)
    controller.start()
    try:
        with SmtpTransport(url_of(controller, credentials=URL_CREDENTIALS)) as transport, \
                pytest.raises(MailConfigurationError) as refused:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert str(refused.value) == (f"refusing to send the SMTP credentials in clear text: {elsewhere} offers no STARTTLS; "
                                      "use smtps:// or a server that offers STARTTLS")
        assert answers.logins == [] and answers.delivered == []
        assert PASSWORD not in str(refused.value)
    finally:
        controller.stop()

    on_loopback = AnyPortController(answers, hostname="127.0.0.1", port=0, authenticator=answers.authenticate, auth_require_tls=False)
    on_loopback.start()
    try:
        with SmtpTransport(url_of(on_loopback, credentials=URL_CREDENTIALS)) as transport:
            transport.send(SENDER, RECIPIENT, MESSAGE)
        assert answers.logins == [USER.encode()] and len(answers.delivered) == 1
    finally:
        on_loopback.stop()


def test_an_address_with_a_non_ascii_domain_goes_out_in_idna_and_a_non_ascii_mailbox_needs_smtputf8(
        server: tuple[Answers, AnyPortController]) -> None:
    answers, controller = server  # aiosmtpd's controller offers SMTPUTF8
    with SmtpTransport(url_of(controller)) as transport:
        transport.send(SENDER, "joão@exemplo.com.br", MESSAGE)
        transport.send(SENDER, "bia@açaí.com.br", MESSAGE)
    assert [to for _, _, to, _ in answers.delivered] == [["joão@exemplo.com.br"], ["bia@" + "açaí.com.br".encode("idna").decode()]]
