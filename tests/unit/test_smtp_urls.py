"""RECUR_SMTP_URL as the SMTP transport reads it, and the texts its errors carry (no recipient address in them)."""

from __future__ import annotations

import pytest

from recur.notifications.smtp import MailConfigurationError, SmtpEndpoint, SmtpTransport, envelope_address, parse_smtp_url, redact


@pytest.mark.parametrize(("url", "endpoint"), [
    ("smtp://mail.example.com", SmtpEndpoint(False, "mail.example.com", 25)),
    ("smtp://mail.example.com:587", SmtpEndpoint(False, "mail.example.com", 587)),
    ("smtps://mail.example.com", SmtpEndpoint(True, "mail.example.com", 465)),
    ("SMTPS://Mail.Example.com:2465/", SmtpEndpoint(True, "mail.example.com", 2465)),
    ("smtp://apikey:p%40ss%3Aw%2Frd@smtp.example.com:587", SmtpEndpoint(False, "smtp.example.com", 587, "apikey", "p@ss:w/rd")),
    ("smtp://me%40example.com:secret@[::1]:2525", SmtpEndpoint(False, "::1", 2525, "me@example.com", "secret")),
])
def test_an_smtp_url_names_the_server_its_tls_and_percent_decoded_credentials(url: str, endpoint: SmtpEndpoint) -> None:
    assert parse_smtp_url(url) == endpoint


@pytest.mark.parametrize(("url", "message"), [
    ("http://mail.example.com", "RECUR_SMTP_URL must start with smtp:// (STARTTLS when offered) or smtps:// (implicit TLS), not http://"),
    ("mail.example.com:25", "RECUR_SMTP_URL must be a URL starting with smtp:// or smtps://"),
    ("smtp://", "RECUR_SMTP_URL names no host: smtp://[user:password@]host[:port]"),
    ("smtp://mail.example.com:99999", "RECUR_SMTP_URL is not a URL of the form smtp://[user:password@]host[:port]"),
    ("smtp://mail.example.com/inbox", "RECUR_SMTP_URL takes no path, query or fragment: smtp://[user:password@]host[:port]"),
    ("smtp://:hunter2@mail.example.com", "RECUR_SMTP_URL has a password but no user name"),
])
def test_a_url_that_cannot_work_is_a_configuration_error_that_never_repeats_a_password(url: str, message: str) -> None:
    with pytest.raises(MailConfigurationError) as wrong:
        SmtpTransport(url)
    assert str(wrong.value) == message


def test_a_url_is_logged_without_its_password() -> None:
    endpoint = parse_smtp_url("smtps://apikey:hunter2@smtp.example.com")
    assert endpoint.redacted_url == "smtps://apikey:***@smtp.example.com:465"
    assert "hunter2" not in repr(endpoint) and "hunter2" not in repr(SmtpTransport("smtps://apikey:hunter2@smtp.example.com"))


@pytest.mark.parametrize(("text", "address"), [
    ("bia@example.com", "bia@example.com"),
    ("  Bia.Souza+news@example.com ", "Bia.Souza+news@example.com"),
    ("recur <no-reply@recur.localhost>", "no-reply@recur.localhost"),
    ('"Ana, Courses" <ana@example.com>', "ana@example.com"),
    ('"john doe"@example.com', '"john doe"@example.com'),
    ("bia@[192.0.2.7]", "bia@[192.0.2.7]"),
    ("bia@açaí.com.br", "bia@xn--aa-4iaz.com.br"),
])
def test_an_address_goes_into_the_envelope_as_its_bare_addr_spec(text: str, address: str) -> None:
    found = envelope_address(text)
    assert found is not None and found.address == address and not found.needs_smtputf8


@pytest.mark.parametrize("text", [
    "", "bia", "bia@", "@example.com", "bia@@example.com", "bia@exa mple.com", "bia@example.com>", "a <b@c.io> <d@e.io>",
    "bia@example.com\nRCPT TO:<x@evil.test>", "bia@-example.com", "x" * 250 + "@ex.io",
])
def test_what_is_not_an_address_is_refused(text: str) -> None:
    assert envelope_address(text) is None


def test_a_non_ascii_mailbox_needs_smtputf8() -> None:
    found = envelope_address("joão@exemplo.com.br")
    assert found is not None and found.needs_smtputf8 and found.address == "joão@exemplo.com.br"


def test_server_texts_lose_the_recipients_address_and_any_other() -> None:
    reply = b"5.1.1 <BIA@example.com>: Recipient address rejected:\n user unknown in table (from no-reply@recur.test)"
    assert redact(reply, "bia@example.com") == \
        "5.1.1 <recipient>: Recipient address rejected: user unknown in table (from <address>)"
    assert len(redact("x" * 1000, "bia@example.com")) == 300
