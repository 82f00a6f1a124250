"""The local SMTP sink and the sandbox outbox (API.md, E-mail and Sandbox): what reaches the sink over real SMTP is
listed to the admin, newest first, with its attachments, filtered by recipient and kind; nobody else sees it."""

from __future__ import annotations

import dataclasses
import smtplib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import pytest
from recur_api import Api, flask_call

from recur.embedded.smtp_sink import SmtpSink, start_smtp_sink
from recur.http.app import create_app
from recur.notifications.smtp import SmtpTransport, TemporaryMailError

ADMIN = "adm_integration"
CSV = b"transaction_id,amount\r\nsub:c1:i1:a1,4990\r\n"
DECIDED_AT = datetime(2031, 5, 1, 12, 30, tzinfo=UTC)  # a sandbox clock's time, far from the wall clock's


@pytest.fixture(scope="module")
def sink(database_url: str) -> Iterator[SmtpSink]:
    with start_smtp_sink(database_url) as running:
        yield running


@pytest.fixture
def admin(recur: Any) -> Api:
    return Api(flask_call(recur.client), ADMIN)


def address(name: str) -> str:
    """An address no other test writes to: the shared mailbox holds every test's mail."""
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def report_message(to: str, kind: str = "report", subject: str = "Seu relatório de maio — Ana Courses") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ana Courses <no-reply@recur.test>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(DECIDED_AT)
    message["X-Recur-Kind"] = kind
    message.set_content("Olá! Segue o relatório de vendas de maio.")
    message.add_alternative("<p>Olá! Segue o <b>relatório</b> de vendas de maio.</p>", subtype="html")
    message.add_attachment(CSV, maintype="text", subtype="csv", filename="vendas-2031-05.csv")
    return message


def send(sink: SmtpSink, message: EmailMessage, *recipients: str) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.send_message(message, from_addr="no-reply@recur.test", to_addrs=list(recipients))


def outbox(api: Api, **query: str) -> dict[str, Any]:
    return api.get("/v1/sandbox/outbox/emails?" + "&".join(f"{key}={quote(value)}" for key, value in query.items()))


def test_a_message_the_sink_received_is_listed_with_its_attachment_and_read_with_its_bodies(sink: SmtpSink, admin: Api) -> None:
    bia, bcc = address("Bia.Souza"), address("finance")
    send(sink, report_message(bia), bia, bcc)

    listed = outbox(admin, to=bia.upper(), kind="report")
    assert listed["next_cursor"] is None
    [item] = listed["items"]
    assert item["to"] == [bia, bcc]  # the envelope: Bcc included
    assert item["from"] == "Ana Courses <no-reply@recur.test>"
    assert item["kind"] == "report"
    assert item["subject"] == "Seu relatório de maio — Ana Courses"
    assert datetime.fromisoformat(item["sent_at"]) == DECIDED_AT
    assert datetime.fromisoformat(item["received_at"]) > DECIDED_AT.replace(year=2020)
    assert item["attachments"] == [{"filename": "vendas-2031-05.csv", "content_type": "text/csv", "size": len(CSV)}]

    read = admin.get(f"/v1/sandbox/outbox/emails/{item['id']}")
    assert {key: read[key] for key in item} == item
    assert read["text"].strip() == "Olá! Segue o relatório de vendas de maio."
    assert read["html"].strip() == "<p>Olá! Segue o <b>relatório</b> de vendas de maio.</p>"


def test_what_recurs_smtp_transport_sends_reaches_the_sandbox_outbox(sink: SmtpSink, admin: Api) -> None:
    bia = address("bia")
    with SmtpTransport(sink.url) as transport:
        transport.send("recur <no-reply@recur.test>", bia, report_message(bia, kind="payment_receipt", subject="Recibo").as_bytes())
        transport.send("recur <no-reply@recur.test>", bia, report_message(bia, kind="charge_failed", subject="Falhou").as_bytes())

    assert [(item["kind"], item["subject"]) for item in outbox(admin, to=bia)["items"]] == [
        ("charge_failed", "Falhou"), ("payment_receipt", "Recibo")]  # newest first


def test_the_outbox_filters_by_exact_recipient_and_kind_and_pages_newest_first(sink: SmtpSink, admin: Api) -> None:
    bia, caio = address("bia"), address("caio")
    for to, kind in [(bia, "trial_ending"), (caio, "trial_ending"), (bia, "charge_failed"), (bia, "trial_ending")]:
        send(sink, report_message(to, kind=kind, subject=f"{kind} for {to}"), to)

    assert [item["kind"] for item in outbox(admin, to=bia)["items"]] == ["trial_ending", "charge_failed", "trial_ending"]
    assert [item["to"] for item in outbox(admin, to=caio)["items"]] == [[caio]]
    assert outbox(admin, to=bia.removesuffix(".com"))["items"] == []  # exact, not a prefix
    assert [item["kind"] for item in outbox(admin, to=bia, kind="charge_failed")["items"]] == ["charge_failed"]
    assert outbox(admin, to=caio, kind="charge_failed")["items"] == []
    assert {tuple(item["to"]) for item in outbox(admin, kind="trial_ending", limit="100")["items"]} >= {(bia,), (caio,)}

    first = outbox(admin, to=bia, limit="2")
    second = outbox(admin, to=bia, limit="2", cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    assert [item["id"] for item in first["items"] + second["items"]] == [item["id"] for item in outbox(admin, to=bia)["items"]]
    assert int(first["items"][0]["id"]) > int(first["items"][1]["id"]) > int(second["items"][0]["id"])


def test_a_message_that_is_barely_mime_is_listed_all_the_same(sink: SmtpSink, admin: Api) -> None:
    bia = address("bia")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.sendmail("someone@elsewhere.test", [bia], b"no headers at all, and \xff not UTF-8\r\n")

    [item] = outbox(admin, to=bia)["items"]
    assert (item["from"], item["kind"], item["subject"], item["sent_at"], item["attachments"]) == (None, None, None, None, [])
    read = admin.get(f"/v1/sandbox/outbox/emails/{item['id']}")
    assert read["html"] is None and read["text"] is not None


def test_a_sink_that_cannot_keep_a_message_does_not_acknowledge_it(postgres_server: Any) -> None:
    from recur.embedded.postgres import create_database

    unmigrated = create_database(postgres_server.url, f"recur_no_mailbox_{uuid.uuid4().hex[:6]}")  # no sandbox_mailbox table
    with start_smtp_sink(unmigrated) as broken, SmtpTransport(broken.url) as transport, pytest.raises(TemporaryMailError) as refused:
        transport.send("recur <no-reply@recur.test>", "bia@example.com", report_message("bia@example.com").as_bytes())
    assert str(refused.value) == "message refused: 451 4.3.0 the sandbox mailbox cannot store messages right now; try again later"


def test_only_the_admin_reads_the_outbox(recur: Any, sink: SmtpSink, admin: Api) -> None:
    bia = address("bia")
    send(sink, report_message(bia), bia)
    message_id = outbox(admin, to=bia)["items"][0]["id"]
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)

    for path in ("/v1/sandbox/outbox/emails", f"/v1/sandbox/outbox/emails/{message_id}"):
        anonymous = recur.client.get(path)
        assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
        as_producer = recur.client.get(path, headers={"Authorization": f"Bearer {producer.token}"})
        assert as_producer.status_code == 404 and as_producer.mimetype == "application/problem+json"
        assert bia not in as_producer.get_data(as_text=True)


@pytest.mark.parametrize("message_id", ["999999999999", "abc", "9" * 30, "-1", "1.0"])
def test_a_message_that_is_not_there_is_a_404(admin: Api, message_id: str) -> None:
    assert admin.get(f"/v1/sandbox/outbox/emails/{message_id}", expect=404)["type"].endswith("not-found")


@pytest.mark.parametrize(("query", "field"), [
    ("kind=Report!", "kind"), ("limit=0", "limit"), ("limit=101", "limit"), ("cursor=bm90LWEtY3Vyc29y", "cursor"),
    ("to=%00", "to"), ("cursor=WyIyMDMxLTA1LTAxVDEyOjAwOjAwKzAwOjAwIiwgImFiYyJd", "cursor"),  # a cursor whose id is not a number
])
def test_a_query_the_outbox_cannot_answer_is_a_422_naming_the_parameter(admin: Api, query: str, field: str) -> None:
    problem = admin.get(f"/v1/sandbox/outbox/emails?{query}", expect=422)
    assert list(problem["errors"]) == [field]


def test_outside_the_sandbox_the_outbox_is_not_there(recur: Any) -> None:
    production = create_app(dataclasses.replace(recur.services, settings=recur.services.settings.with_(sandbox=False)))
    response = production.test_client().get("/v1/sandbox/outbox/emails", headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 404
