"""The e-mails recur sends read right in Portuguese and English: the figures a subscriber checks (amount, dates,
installment), what to do next, the recipient, and a message that is the same bytes however often the same
decision is rendered. Every message is parsed back the way a mail client would."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta, timezone
from email.message import EmailMessage
from importlib import resources
from typing import Any

import pytest
from jinja2 import UndefinedError

from recur.commands.sandbox_test_cards import OUTCOMES
from recur.domain.money import Money
from recur.domain.retry import HARD_DECLINES
from recur.gateways.stripe_outcomes import REASONS as STRIPE_REASONS
from recur.notifications.messages import KINDS, LOCALES, TEMPLATE_SUFFIXES, Attachment, Rendered, compose, locale_for
from recur.notifications.rendering import render

DECIDED_AT = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
PRICE = Money(1990, "BRL")
RENEWAL = datetime(2027, 3, 5, 9, 0, tzinfo=UTC)
CARD = {"type": "card", "brand": "visa", "last4": "4242"}
LINE = "34191.79001 01043.510047 91020.150008 1 90000000001990"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = "<script>alert(1)</script>"
ESCAPED_HOSTILE = "&lt;script&gt;alert(1)&lt;/script&gt;"
# How each locale writes R$ 19,90 and 5 March 2027 (Babel separates the symbol with a no-break space in pt-BR).
AMOUNT = {"pt-BR": "R$\xa019,90", "en": "R$19.90"}
RENEWAL_DAY = {"pt-BR": "5 de março de 2027", "en": "March 5, 2027"}
# Every decline code recur can receive: the sandbox's outcomes, the hard declines, Stripe's refusals in recur's words,
# an expired boleto.
DECLINE_CODES = sorted((OUTCOMES - {"approved"}) | HARD_DECLINES | set(STRIPE_REASONS.values()) | {"boleto_expired"})
GENERIC_DECLINE = {"pt-BR": "O pagamento não foi aprovado.", "en": "The payment was not approved."}


def subscriber(**overrides: Any) -> dict[str, Any]:
    return {
        "subscriber_name": "Bia Souza",
        "producer_name": "Escola de Violão",
        "product_name": "Violão do Zero",
        "plan_name": "Plano Anual",
        "subscription_code": "SUB-ABCD1234",
        "payment_method": CARD,
        **overrides,
    }


def context_for(kind: str, **overrides: Any) -> dict[str, Any]:
    """A realistic context for each kind: a R$ 19,90 subscription whose figures fall on 5 March 2027."""
    specific: dict[str, dict[str, Any]] = {
        "renewal_reminder": {"renews_at": RENEWAL, "amount": PRICE, "installments": 1, "days_before": 3},
        "trial_ending": {"trial_ends_at": RENEWAL, "amount": PRICE},
        "payment_receipt": {"amount": PRICE, "paid_at": RENEWAL, "installment": 1, "installments": 1, "charge_id": "ch_0001"},
        "charge_failed": {"amount": PRICE, "reason": "insufficient_funds", "failed_at": RENEWAL,
                          "next_retry_at": RENEWAL + timedelta(days=3), "waiting_for_new_payment_method": False},
        "retries_exhausted": {"amount": PRICE, "attempts": 4, "at": RENEWAL},
        "boleto_issued": {"amount": PRICE, "due_date": date(2027, 3, 5), "line": LINE, "installment": 1, "installments": 1},
        "cancelled": {"cancelled_at": RENEWAL, "origin": "customer", "reason": None},
        "refund": {"amount": PRICE, "refunded_at": RENEWAL, "charge_id": "ch_0001"},
    }
    if kind == "webhook_endpoint_disabled":
        return {"producer_name": "Escola de Violão", "endpoint_url": "https://crm.example.com/hooks?<b>=1",
                "endpoint_id": "6f1c0b8e-0000-4000-8000-000000000001", "failing_since": RENEWAL - timedelta(days=5),
                "disabled_at": RENEWAL, **overrides}
    if kind == "report":
        return {"producer_name": "Escola de Violão", "report": "sales", "frequency": "weekly", "period_start": date(2027, 3, 1),
                "period_end": date(2027, 3, 7), "time_zone": "America/Sao_Paulo", "rows": 12, "format": "csv", **overrides}
    return subscriber(**{**specific[kind], **overrides})


def mail(kind: str, locale: str = "pt-BR", *, key: str = "SUB-ABCD1234:kind:cycle-1", to_name: str | None = "Bia Souza",
         attachments: tuple[Attachment, ...] = (), **overrides: Any) -> Rendered:
    return compose(kind, locale, to_name, "bia@example.com", context_for(kind, **overrides), decided_at=DECIDED_AT,
                   message_key=key, attachments=attachments)


def parsed(rendered: Rendered) -> EmailMessage:
    message = email.message_from_bytes(rendered.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(rendered: Rendered) -> tuple[str, str]:
    """The text and the HTML part, as a mail client shows them."""
    message = parsed(rendered)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def everywhere(rendered: Rendered) -> list[str]:
    """The subject and both bodies: a figure the subscriber must see is in each of them."""
    return [rendered.subject, *bodies(rendered)]


# --- the template set ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_every_kind_has_a_subject_a_text_and_an_html_template_in_every_locale(locale: str) -> None:
    folder = resources.files("recur.notifications") / "templates" / locale
    names = {entry.name for entry in folder.iterdir()}
    expected = {kind + suffix for kind in KINDS for suffix in TEMPLATE_SUFFIXES}
    assert expected <= names
    assert {name for name in names - expected if not name.startswith("_")} == set(), "a template no kind uses"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_a_text_and_html_message_with_the_headers_a_sender_relies_on(kind: str, locale: str) -> None:
    rendered = mail(kind, locale)
    message = parsed(rendered)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == rendered.subject and rendered.subject.strip() and "\n" not in rendered.subject
    assert message["From"] is None  # the sender adds it
    assert message["X-Recur-Kind"] == kind
    assert message["Content-Language"] == locale
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime == DECIDED_AT
    assert [(address.display_name, address.addr_spec) for address in message["To"].addresses] == [("Bia Souza", "bia@example.com")]
    text, html = bodies(rendered)
    assert f'lang="{locale}"' in html
    assert "Escola de Violão" in text and "Escola de Violão" in html


def test_the_message_is_crlf_and_seven_bit_whatever_the_language() -> None:
    raw = mail("charge_failed", "pt-BR", to_name="João Ñandú").message
    raw.decode("ascii")  # no 8BITMIME needed from the SMTP server
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


# --- figures per kind ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_a_renewal_reminder_says_when_and_how_much(locale: str) -> None:
    rendered = mail("renewal_reminder", locale)
    for shown in everywhere(rendered)[1:]:
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown
        assert {"pt-BR": "cartão Visa final 4242", "en": "Visa card ending in 4242"}[locale] in shown
    assert RENEWAL_DAY[locale] in rendered.subject and "Violão do Zero (Plano Anual)" in rendered.subject
    assert {"pt-BR": "daqui a 3 dias", "en": "in 3 days"}[locale] in bodies(rendered)[0]


@pytest.mark.parametrize(("locale", "wording"), [("pt-BR", "a primeira de 3 parcelas mensais"),
                                                 ("en", "the first of 3 monthly installments")])
def test_a_renewal_paid_in_installments_says_the_amount_is_the_first_of_them(locale: str, wording: str) -> None:
    for shown in bodies(mail("renewal_reminder", locale, installments=3)):
        assert wording in shown
    for shown in bodies(mail("renewal_reminder", locale, installments=1)):
        assert wording not in shown


@pytest.mark.parametrize(("locale", "wording"), [("pt-BR", "vamos gerar um boleto de R$\xa019,90"),
                                                 ("en", "we will issue a boleto for R$19.90")])
def test_a_renewal_paid_by_boleto_announces_a_boleto_rather_than_a_charge(locale: str, wording: str) -> None:
    for shown in bodies(mail("renewal_reminder", locale, payment_method={"type": "boleto"})):
        assert wording in shown


@pytest.mark.parametrize("locale", LOCALES)
def test_a_trial_ending_notice_gives_the_end_of_the_trial_and_the_first_charge(locale: str) -> None:
    rendered = mail("trial_ending", locale)
    assert RENEWAL_DAY[locale] in rendered.subject
    for shown in bodies(rendered):
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown


@pytest.mark.parametrize(("locale", "subject", "installment"), [("pt-BR", "Pagamento recebido", "2 de 3"),
                                                                ("en", "Payment received", "2 of 3")])
def test_a_receipt_gives_the_amount_paid_the_day_the_installment_and_the_charge(locale: str, subject: str, installment: str) -> None:
    rendered = mail("payment_receipt", locale, installment=2, installments=3)
    assert subject in rendered.subject and AMOUNT[locale] in rendered.subject
    for shown in bodies(rendered):
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown and installment in shown and "ch_0001" in shown


@pytest.mark.parametrize("locale", LOCALES)
def test_a_receipt_for_a_single_payment_mentions_no_installment(locale: str) -> None:
    for shown in bodies(mail("payment_receipt", locale)):
        assert "1 de 1" not in shown and "1 of 1" not in shown


@pytest.mark.parametrize(("locale", "retry"), [("pt-BR", "Vamos tentar de novo em 8 de março de 2027"),
                                               ("en", "We will try again on March 8, 2027")])
def test_a_failed_charge_says_why_when_it_is_retried_and_how_to_change_the_card(locale: str, retry: str) -> None:
    rendered = mail("charge_failed", locale)
    assert "Violão do Zero" in rendered.subject
    reason = {"pt-BR": "O banco informou saldo ou limite insuficiente.",
              "en": "Your bank reported insufficient funds or credit limit."}[locale]
    where = {"pt-BR": "área do assinante de Escola de Violão", "en": "subscriber area of Escola de Violão"}[locale]
    for shown in bodies(rendered):
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown
        assert reason in shown and retry in shown
        assert where in shown and "SUB-ABCD1234" in shown


@pytest.mark.parametrize(("locale", "wording"), [("pt-BR", "assim que você cadastrar um novo cartão"),
                                                 ("en", "as soon as you add a new card")])
def test_a_hard_decline_says_nothing_is_retried_until_the_card_is_changed(locale: str, wording: str) -> None:
    rendered = mail("charge_failed", locale, reason="stolen_card", next_retry_at=None, waiting_for_new_payment_method=True)
    for shown in bodies(rendered):
        assert wording in shown
        assert "8 de março" not in shown and "March 8" not in shown


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", DECLINE_CODES)
def test_every_decline_code_recur_knows_is_explained_in_its_own_words(code: str, locale: str) -> None:
    text, _ = bodies(mail("charge_failed", locale, reason=code))
    assert GENERIC_DECLINE[locale] not in text
    assert code not in text  # plain words, not the gateway's code


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", ["something_new", "", None])
def test_a_decline_code_nobody_listed_gets_a_generic_sentence(code: str | None, locale: str) -> None:
    for shown in bodies(mail("charge_failed", locale, reason=code)):
        assert GENERIC_DECLINE[locale] in shown


@pytest.mark.parametrize(("locale", "attempts"), [("pt-BR", "Depois de 4 tentativas"), ("en", "After 4 attempts")])
def test_exhausted_retries_say_how_many_attempts_failed_and_how_to_reactivate(locale: str, attempts: str) -> None:
    rendered = mail("retries_exhausted", locale)
    assert "Violão do Zero" in rendered.subject
    for shown in bodies(rendered):
        assert attempts in shown and AMOUNT[locale] in shown and "SUB-ABCD1234" in shown


@pytest.mark.parametrize("locale", LOCALES)
def test_a_boleto_gives_amount_due_date_and_a_line_to_copy(locale: str) -> None:
    rendered = mail("boleto_issued", locale, payment_method={"type": "boleto"})
    assert AMOUNT[locale] in rendered.subject and RENEWAL_DAY[locale] in rendered.subject
    text, html = bodies(rendered)
    assert f"\n{LINE}\n" in text  # on a line of its own, to select and copy
    assert f"<code>{LINE}</code>" in html and "monospace" in html
    for shown in (text, html):
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown


@pytest.mark.parametrize(("locale", "wording"), [("pt-BR", "parcela 2 de 3"), ("en", "installment 2 of 3")])
def test_a_boleto_for_an_installment_says_which(locale: str, wording: str) -> None:
    for shown in bodies(mail("boleto_issued", locale, installment=2, installments=3)):
        assert wording in shown


@pytest.mark.parametrize(
    ("locale", "origin", "wording"),
    [
        ("pt-BR", "customer", "Conforme o seu pedido"),
        ("pt-BR", "seller", "Escola de Violão cancelou sua assinatura"),
        ("pt-BR", "admin", "pela equipe da plataforma"),
        ("en", "customer", "As you requested"),
        ("en", "seller", "Escola de Violão cancelled your subscription"),
        ("en", "admin", "by the team of the payment platform"),
    ],
)
def test_a_cancellation_says_who_cancelled(locale: str, origin: str, wording: str) -> None:
    rendered = mail("cancelled", locale, origin=origin)
    assert "Violão do Zero" in rendered.subject
    for shown in bodies(rendered):
        assert wording in shown and RENEWAL_DAY[locale] in shown


@pytest.mark.parametrize(("locale", "label"), [("pt-BR", "Motivo informado"), ("en", "Reason given")])
def test_a_cancellation_reason_is_shown_only_when_one_was_given(locale: str, label: str) -> None:
    for shown in bodies(mail("cancelled", locale, reason=None)):
        assert label not in shown
    for shown in bodies(mail("cancelled", locale, reason="Mudei de ideia")):
        assert f"{label}: Mudei de ideia" in shown


@pytest.mark.parametrize(("locale", "subject"), [("pt-BR", "Reembolso de R$\xa019,90"), ("en", "Refund of R$19.90")])
def test_a_refund_gives_the_amount_the_day_and_the_charge(locale: str, subject: str) -> None:
    rendered = mail("refund", locale)
    assert subject in rendered.subject
    for shown in bodies(rendered):
        assert AMOUNT[locale] in shown and RENEWAL_DAY[locale] in shown and "ch_0001" in shown


@pytest.mark.parametrize(
    ("locale", "subject", "rows"),
    [("pt-BR", "Relatório semanal de vendas de Escola de Violão: 1\u2009–\u20097 de mar. de 2027", "12 linhas"),
     ("en", "Weekly sales report for Escola de Violão: Mar 1\u2009–\u20097, 2027", "12 rows")],
)
def test_a_report_names_the_report_its_period_and_carries_the_file(locale: str, subject: str, rows: str) -> None:
    spreadsheet = b"PK\x03\x04 not really a workbook \x00\xff"
    rendered = mail("report", locale, to_name=None, format="xlsx",
                    attachments=(Attachment("sales-2027-03-01.xlsx", XLSX, spreadsheet),))
    assert rendered.subject == subject
    text, html = bodies(rendered)
    assert rows in text and "XLSX" in text and "America/Sao_Paulo" in text
    assert "America/Sao_Paulo" in html
    message = parsed(rendered)
    assert [(address.display_name, address.addr_spec) for address in message["To"].addresses] == [("", "bia@example.com")]
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "sales-2027-03-01.xlsx" and attached.get_content_type() == XLSX
    assert attached.get_content() == spreadsheet


# --- formatting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "amount", "shown"),
    [
        ("pt-BR", Money(123456, "BRL"), "R$\xa01.234,56"),
        ("en", Money(123456, "BRL"), "R$1,234.56"),
        ("en", Money(1990, "USD"), "$19.90"),
        ("en", Money(1990, "JPY"), "¥1,990"),  # no minor unit: 1990 yen, not 19.90
        ("pt-BR", Money(5, "BRL"), "R$\xa00,05"),
    ],
)
def test_an_amount_is_written_with_its_currencys_digits_the_locales_way(locale: str, amount: Money, shown: str) -> None:
    assert shown in bodies(mail("payment_receipt", locale, amount=amount))[0]


def test_an_instant_is_shown_on_its_utc_day_whatever_its_offset() -> None:
    late_evening_in_sao_paulo = datetime(2027, 3, 4, 23, 30, tzinfo=timezone(timedelta(hours=-3)))  # 02:30 UTC on the 5th
    text, html = bodies(mail("payment_receipt", "en", paid_at=late_evening_in_sao_paulo))
    assert "Date: March 5, 2027" in text and "March 4" not in html


def test_an_instant_without_a_time_zone_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        mail("payment_receipt", "en", paid_at=datetime(2027, 3, 5, 9, 0))


def test_an_amount_without_its_currency_is_refused() -> None:
    with pytest.raises(TypeError, match="Money"):
        mail("payment_receipt", "en", amount=1990)


def test_the_date_header_is_the_decision_time_in_utc() -> None:
    decided_in_sao_paulo = datetime(2027, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    rendered = compose("refund", "en", None, "bia@example.com", context_for("refund"), decided_at=decided_in_sao_paulo,
                       message_key="k")
    assert parsed(rendered)["Date"] == "Tue, 02 Mar 2027 12:00:00 +0000"


# --- identity of a message ----------------------------------------------------------------------------------


def test_the_same_decision_rendered_twice_is_the_same_message() -> None:
    first = mail("payment_receipt", key="SUB-ABCD1234:payment_receipt:c1:i1")
    again = mail("payment_receipt", key="SUB-ABCD1234:payment_receipt:c1:i1")
    assert parsed(first)["Message-ID"] == parsed(again)["Message-ID"]
    assert first.message == again.message  # a resend from the outbox is byte for byte the first message


def test_another_decision_gets_another_message_id() -> None:
    first = mail("payment_receipt", key="SUB-ABCD1234:payment_receipt:c1:i1")
    second = mail("payment_receipt", key="SUB-ABCD1234:payment_receipt:c2:i1")
    assert parsed(first)["Message-ID"] != parsed(second)["Message-ID"]
    assert parsed(first)["Message-ID"].startswith("<") and parsed(first)["Message-ID"].endswith("@recur>")


# --- hostile and unusual input ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_a_subscriber_named_like_a_script_is_escaped_in_html_and_verbatim_in_text(locale: str) -> None:
    rendered = mail("cancelled", locale, subscriber_name=HOSTILE, product_name=f"Curso {HOSTILE}",
                    producer_name="Tom & Jerry <b>", reason=f"Quero {HOSTILE}")
    text, html = bodies(rendered)
    assert "<script>" not in html and "<b>" not in html
    assert html.count(ESCAPED_HOSTILE) == 3 and "Tom &amp; Jerry &lt;b&gt;" in html
    assert text.count(HOSTILE) == 3 and "Tom & Jerry <b>" in text
    assert f"Curso {HOSTILE}" in rendered.subject


def test_a_hostile_product_name_is_escaped_in_the_details_table_too() -> None:
    hostile_card = {"type": "card", "brand": HOSTILE, "last4": "4242"}
    _, html = bodies(mail("payment_receipt", "en", product_name=HOSTILE, payment_method=hostile_card))
    assert "<script>" not in html and html.count(ESCAPED_HOSTILE) == 2


def test_a_recipient_name_in_any_script_survives_the_to_header() -> None:
    for name in ("João Ñandú", "Zoë O'Brien, Jr.", "Иван Петров", "山田太郎", 'Ana "Nina" Lima'):
        [address] = parsed(mail("payment_receipt", "pt-BR", to_name=name))["To"].addresses
        assert (address.display_name, address.addr_spec) == (name, "bia@example.com")


def test_a_name_with_a_comma_and_an_address_in_it_stays_one_recipient() -> None:
    [address] = parsed(mail("payment_receipt", "en", to_name="Zoë, evil@attacker.example"))["To"].addresses
    assert (address.display_name, address.addr_spec) == ("Zoë, evil@attacker.example", "bia@example.com")


def test_an_internationalized_domain_is_written_the_way_smtp_servers_read_it() -> None:
    message = parsed(compose("refund", "en", None, "bia@exâmplo.com.br", context_for("refund"), decided_at=DECIDED_AT, message_key="k"))
    assert [address.addr_spec for address in message["To"].addresses] == ["bia@xn--exmplo-xta.com.br"]


@pytest.mark.parametrize("address", ["joão@example.com", "no-at-sign", "bia@"])
def test_an_address_a_plain_smtp_server_cannot_take_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        compose("refund", "en", None, address, context_for("refund"), decided_at=DECIDED_AT, message_key="k")


def test_a_line_break_in_a_name_or_product_cannot_add_a_header() -> None:
    rendered = mail("payment_receipt", "en", to_name="Bia\r\nBcc: victim@example.com", product_name="Course\r\nBcc: x@example.com")
    message = parsed(rendered)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].display_name == "Bia Bcc: victim@example.com"
    assert "\n" not in rendered.subject


# --- attachments --------------------------------------------------------------------------------------------


def test_attachments_round_trip_byte_for_byte_beside_the_text_and_html() -> None:
    csv = "buyer.name,amount\r\nJoão,1990\r\n".encode()
    binary = bytes(range(256))
    rendered = mail("report", "pt-BR", attachments=(Attachment("vendas.csv", "text/csv", csv), Attachment("vendas.xlsx", XLSX, binary)))
    message = parsed(rendered)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    attached = [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_attachments()]
    assert attached == [("vendas.csv", "text/csv", csv), ("vendas.xlsx", XLSX, binary)]


def test_an_attachment_without_a_proper_content_type_is_refused() -> None:
    with pytest.raises(ValueError, match="content type"):
        mail("report", "en", attachments=(Attachment("report.csv", "csv", b"a,b\r\n"),))


# --- mistakes in the caller or the templates ----------------------------------------------------------------


def test_a_context_missing_a_value_is_refused_by_name() -> None:
    context = context_for("charge_failed")
    del context["next_retry_at"]  # read only on one branch: the up-front check catches it on every call
    with pytest.raises(ValueError, match="next_retry_at"):
        compose("charge_failed", "en", None, "bia@example.com", context, decided_at=DECIDED_AT, message_key="k")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_template_reading_a_value_that_is_not_there_fails_rather_than_printing_a_blank(locale: str) -> None:
    context = context_for("renewal_reminder")
    del context["amount"]
    with pytest.raises(UndefinedError):
        render(locale, "renewal_reminder.txt", context)
    with pytest.raises(UndefinedError):
        mail("renewal_reminder", locale, payment_method={"brand": "visa", "last4": "4242"})  # no type


def test_an_unknown_kind_or_locale_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        compose("newsletter", "en", None, "bia@example.com", {}, decided_at=DECIDED_AT, message_key="k")
    with pytest.raises(ValueError, match="locale"):
        compose("refund", "pt-PT", None, "bia@example.com", context_for("refund"), decided_at=DECIDED_AT, message_key="k")


# --- language -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "locale"), [("BR", "pt-BR"), ("br", "pt-BR"), ("US", "en"), ("PT", "en"), (None, "en"), ("", "en")])
def test_subscribers_in_brazil_read_portuguese_and_everyone_else_english(country: str | None, locale: str) -> None:
    assert locale_for(country) == locale
