"""E-mail to subscribers, end to end: events -> the notifier -> the outbox -> a real SMTP server (aiosmtpd).

Each subscriber here has an address of their own, so a test sees only its own mail in the session's server.
"Not sent" is checked in the outbox after a clock advance (which returns once every consumer group, the
notifier included, has caught up): what the notifier did not decide by then, it never sends.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from typing import Any
from uuid import uuid4

from babel.dates import format_date
from mail_server import TEST_RETRY_DELAYS, Received

from recur.notifications.sender import OutboxSender, RetryDelays
from recur.notifications.smtp import SmtpTransport
from recur.projections.base import apply_events
from recur.projections.notifier import notifier
from recur.projections.rebuild import event_pages
from recur.settings import Settings
from recur.workers import send_until_stopped

Running = Any  # the `recur` fixture (tests/integration/conftest.py)

DECLINES_INSUFFICIENT_FUNDS = "4000000000009995"


def address(tag: str) -> str:
    return f"{tag}-{uuid4().hex[:10]}@example.com"


def subscribe(producer: Any, plan_id: str, email: str, country: str | None = None, **extra: Any) -> dict[str, Any]:
    subscriber = {"name": "Bia Souza", "email": email, **({"country": country} if country else {})}
    return producer.subscribe(plan_id, subscriber=subscriber, **extra)


def now(admin: Any) -> datetime:
    return datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])


def advance_to(admin: Any, moment: datetime) -> None:
    admin.post("/v1/sandbox/clock/advance", {"to": moment.isoformat()})


def decided(recur: Running, email: str, kind: str | None = None) -> list[tuple[str, datetime]]:
    """(kind, decided_at) of the messages the notifier decided for `email`, oldest first."""
    rows = recur.services.db.fetchall(
        "SELECT kind, decided_at FROM email_outbox WHERE recipient = %s AND (%s::text IS NULL OR kind = %s) ORDER BY id",
        (email, kind, kind),
    )
    return [(k, at) for k, at in rows]


def text_of(received: Received) -> str:
    body = received.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(received: Received) -> str:
    body = received.message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def wait_until_outbox_idle(recur: Running) -> None:
    """Every decided message handed to the server (or refused for good): the next one sent is the test's."""
    recur.caught_up()
    recur.mail.catcher.wait_for(
        lambda: recur.services.db.fetchone("SELECT count(*) FROM email_outbox WHERE status = 'pending'") == (0,),
        what="the outbox to be empty",
    )


# ---------------------------------------------------------------------------------------------- charges


def test_an_approved_charge_sends_a_receipt_from_the_producer_in_the_subscribers_language(recur: Running, producer: Any) -> None:
    plan = producer.new_plan(price={"amount": 4990, "currency": "BRL"})
    email = address("receipt")
    subscribe(producer, plan["id"], email, country="BR")

    receipt = recur.mail.one(email, "payment_receipt")
    message = receipt.message
    assert receipt.recipients == (email,)
    assert message["To"].addresses[0].addr_spec == email
    assert message["From"].addresses[0].display_name == "Ana Courses"
    assert message["From"].addresses[0].addr_spec == "no-reply@recur.localhost"
    assert message["Content-Language"] == "pt-BR"
    assert "R$\xa049,90" in text_of(receipt) or "R$ 49,90" in text_of(receipt)
    assert "Bia Souza" in html_of(receipt)


def test_a_refused_charge_says_why_and_when_it_is_retried(recur: Running, producer: Any) -> None:
    plan = producer.new_plan(price={"amount": 2500, "currency": "USD"})
    email = address("refused")
    sub = subscribe(producer, plan["id"], email, card_token=producer.card(DECLINES_INSUFFICIENT_FUNDS))
    next_retry_at = datetime.fromisoformat(sub["retry"]["next_retry_at"])

    refused = recur.mail.one(email, "charge_failed")
    text = text_of(refused)
    assert refused.message["Content-Language"] == "en"
    assert "$25.00" in text
    assert format_date(next_retry_at.date(), "long", locale="en") in text
    assert sub["code"] in text  # the subscriber is told which subscription to update the card of
    assert decided(recur, email, "payment_receipt") == []


def test_the_last_refused_retry_sends_retries_exhausted_and_no_second_refusal(recur: Running, producer: Any, admin: Any) -> None:
    plan = producer.new_plan(retry_policy={"max_retries": 1, "window_days": 2, "reset_billing_date": False})
    email = address("exhausted")
    subscribe(producer, plan["id"], email, card_token=producer.card(DECLINES_INSUFFICIENT_FUNDS))

    advance_to(admin, now(admin) + timedelta(days=3))

    recur.mail.one(email, "retries_exhausted")
    assert [kind for kind, _ in decided(recur, email)] == ["charge_failed", "retries_exhausted"]


def test_a_boleto_is_sent_with_its_amount_due_date_and_line(recur: Running, producer: Any) -> None:
    plan = producer.new_plan(price={"amount": 12000, "currency": "BRL"})
    email = address("boleto")
    sub = subscribe(producer, plan["id"], email, country="BR", boleto=True)
    boleto = sub["boleto"]

    text = text_of(recur.mail.one(email, "boleto_issued"))
    assert boleto["line"] in text
    assert "120,00" in text
    assert format_date(datetime.fromisoformat(boleto["due_date"]).date(), "long", locale="pt_BR") in text


def test_cancelling_tells_the_subscriber(recur: Running, producer: Any) -> None:
    plan = producer.new_plan()
    email = address("cancelled")
    sub = subscribe(producer, plan["id"], email)
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "moving to <b>another</b> course"})

    cancelled = recur.mail.one(email, "cancelled")
    assert "&lt;b&gt;another&lt;/b&gt;" in html_of(cancelled)  # the reason is the user's text: escaped


# ---------------------------------------------------------------------------------------------- the billing clock


def test_the_trial_ending_notice_comes_three_days_before_the_trial_ends_and_not_before(
    recur: Running, producer: Any, admin: Any
) -> None:
    plan = producer.new_plan(trial_days=10)
    email = address("trial")
    sub = subscribe(producer, plan["id"], email)
    trial_ends_at = datetime.fromisoformat(sub["trial_ends_at"])

    advance_to(admin, trial_ends_at - timedelta(days=3, hours=1))
    assert decided(recur, email, "trial_ending") == []

    advance_to(admin, trial_ends_at - timedelta(days=3) + timedelta(hours=1))
    assert decided(recur, email, "trial_ending") == [("trial_ending", trial_ends_at - timedelta(days=3))]
    notice = recur.mail.one(email, "trial_ending")
    assert notice.message["Date"].datetime == trial_ends_at - timedelta(days=3)  # sent on the sandbox's day
    assert format_date(trial_ends_at.date(), "long", locale="en") in text_of(notice)


def test_the_renewal_reminder_comes_the_plans_days_before_the_renewal_and_moves_with_the_billing_day(
    recur: Running, producer: Any, admin: Any
) -> None:
    plan = producer.new_plan(renewal_reminder_days=7)
    stays, moves = address("reminded"), address("moved")
    stays_sub = subscribe(producer, plan["id"], stays)
    moves_sub = subscribe(producer, plan["id"], moves)
    renewal = datetime.fromisoformat(stays_sub["next_charge_at"])
    day = renewal.day + 10 if renewal.day <= 18 else renewal.day - 10
    moved = producer.put(f"/v1/subscriptions/{moves_sub['id']}/billing-day", {"day": day})
    moved_renewal = datetime.fromisoformat(moved["next_charge_at"])
    assert moved_renewal.day == day and moved_renewal != renewal
    reminders = sorted([(renewal - timedelta(days=7), stays, renewal), (moved_renewal - timedelta(days=7), moves, moved_renewal)])
    (first_at, first, first_renewal), (second_at, second, _) = reminders

    advance_to(admin, first_at - timedelta(hours=1))
    assert decided(recur, first, "renewal_reminder") == []

    advance_to(admin, first_at + timedelta(hours=1))
    assert decided(recur, first, "renewal_reminder") == [("renewal_reminder", first_at)]
    assert decided(recur, second, "renewal_reminder") == []  # not at the other's date: its own renewal is elsewhere
    reminder = recur.mail.one(first, "renewal_reminder")
    assert format_date(first_renewal.date(), "long", locale="en") in text_of(reminder)

    advance_to(admin, second_at - timedelta(hours=1))
    assert decided(recur, second, "renewal_reminder") == []
    advance_to(admin, second_at + timedelta(hours=1))
    assert decided(recur, second, "renewal_reminder") == [("renewal_reminder", second_at)]
    assert len(decided(recur, first, "renewal_reminder")) == 1


# ---------------------------------------------------------------------------------------------- never lost, never twice


def test_a_server_refusing_for_a_while_delays_mail_and_loses_none(recur: Running, producer: Any) -> None:
    plan = producer.new_plan()
    email = address("greylisted")
    wait_until_outbox_idle(recur)
    recur.mail.catcher.refuse_next(3)

    subscribe(producer, plan["id"], email)

    recur.mail.one(email, "payment_receipt")
    assert recur.mail.catcher.refusals == 0

    def recorded_sent() -> bool:  # the server took it; the sender commits that right after
        return recur.services.db.fetchone("SELECT status FROM email_outbox WHERE recipient = %s", (email,)) == ("sent",)

    recur.mail.catcher.wait_for(recorded_sent, what="the receipt to be recorded as sent")
    assert recur.services.db.fetchone("SELECT attempts FROM email_outbox WHERE recipient = %s", (email,)) == (4,)


def test_a_permanent_refusal_is_recorded_without_the_address_and_reported(recur: Running, producer: Any, recur_cli: Any) -> None:
    plan = producer.new_plan()
    email = address("bounced")
    wait_until_outbox_idle(recur)
    recur.mail.catcher.refuse_next(1, f"550 5.1.1 <{email}>: mailbox unavailable")

    subscribe(producer, plan["id"], email)

    def failed() -> bool:
        return recur.services.db.fetchone("SELECT status FROM email_outbox WHERE recipient = %s", (email,)) == ("failed",)

    recur.mail.catcher.wait_for(failed, what="the receipt to be refused for good")
    (error,) = recur.services.db.fetchone("SELECT last_error FROM email_outbox WHERE recipient = %s", (email,))  # type: ignore[misc]
    assert "550" in error and email not in error
    assert recur.mail.to(email) == []

    result = recur_cli("notifications", "status", env={"RECUR_DATABASE_URL": recur.services.db.url})
    assert result.exit_code == 0, result.output
    assert "payment_receipt" in result.output and "mailbox unavailable" in result.output and email not in result.output
    metrics = recur.client.get("/metrics").get_data(as_text=True)
    failed_receipts = [line for line in metrics.splitlines() if line.startswith('recur_emails{kind="payment_receipt",status="failed"}')]
    assert failed_receipts and float(failed_receipts[0].split()[-1]) >= 1


def test_events_delivered_again_decide_no_second_message(recur: Running, producer: Any) -> None:
    plan = producer.new_plan()
    email = address("redelivered")
    sub = subscribe(producer, plan["id"], email)
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {})
    recur.mail.one(email, "cancelled")
    before = decided(recur, email)

    # The worst redelivery: the notifier's version guard forgot this subscription (as if its bookkeeping were
    # lost), and every one of its events arrives again. Only the outbox's keys stand between them and a resend.
    mine = [d for page in event_pages(recur.services.events, 0) for d in page if d[2]["aggregate_id"] == sub["id"]]
    with recur.services.db.transaction() as cur:
        cur.execute("DELETE FROM projection_versions WHERE projection = 'notifier' AND aggregate_id = %s", (sub["id"],))
        outcome = apply_events(cur, notifier, mine)
    assert outcome.applied == len(mine)

    wait_until_outbox_idle(recur)
    assert decided(recur, email) == before
    assert len(recur.mail.to(email)) == len(before)


def test_two_senders_at_once_send_each_message_once(recur: Running, producer: Any) -> None:
    """A second notifier process (or one restarted while the old one still runs) shares the outbox safely."""
    from recur.db import Database

    second = OutboxSender(Database(recur.services.db.url, 1), SmtpTransport(recur.mail.url), Settings.mail_from,
                          RetryDelays(**TEST_RETRY_DELAYS))
    stop = threading.Event()
    thread = threading.Thread(target=send_until_stopped, args=(second, stop.is_set, 0.01), daemon=True)
    thread.start()
    try:
        plan = producer.new_plan()
        emails = [address("twice") for _ in range(6)]
        for email in emails:
            subscribe(producer, plan["id"], email)
        for email in emails:
            recur.mail.one(email, "payment_receipt")
        wait_until_outbox_idle(recur)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert all(len(recur.mail.to(email)) == 1 for email in emails)


def test_the_message_parses_as_standard_mail_with_text_and_html(recur: Running, producer: Any) -> None:
    plan = producer.new_plan()
    email = address("parts")
    subscribe(producer, plan["id"], email)
    receipt = recur.mail.one(email, "payment_receipt")
    message = email_message(receipt.raw)
    assert message.get_content_type() == "multipart/alternative"
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    assert message["Message-ID"]


def email_message(raw: bytes) -> Any:
    return message_from_bytes(raw, policy=email_policy.default)


def test_an_address_smtp_cannot_carry_is_refused_by_the_api_and_one_stored_before_is_recorded_as_refused(
    recur: Running, producer: Any
) -> None:
    plan = producer.new_plan()
    email = f"zoë-{uuid4().hex[:8]}@example.com"  # plain SMTP cannot carry it (it needs SMTPUTF8)
    refused = producer.post("/v1/subscriptions", {"plan_id": plan["id"], "subscriber": {"name": "Zoë", "email": email},
                                                  "payment_method": {"type": "card", "card_token": producer.card()}}, expect=422)
    assert refused["errors"] == {"subscriber": {"email": [
        "must be an address plain SMTP can carry: a mailbox name outside ASCII needs SMTPUTF8, which recur does not use"]}}

    # A subscriber stored before the API refused such addresses: the history of a real subscription, told to the notifier
    # again as another subscription's with that address. Its messages are recorded as refused; the notifier goes on.
    sub = subscribe(producer, plan["id"], address("model"))
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {})
    recur.caught_up()
    other = str(uuid4())
    history = [(topic, partition, json.loads(json.dumps(event).replace(sub["id"], other)))
               for page in event_pages(recur.services.events, 0) for topic, partition, event in page
               if event["aggregate_id"] == sub["id"]]
    started = history[0][2]
    started["data"] = {**started["data"], "subscriber": {**started["data"]["subscriber"], "email": email}}
    with recur.services.db.transaction() as cur:
        apply_events(cur, notifier, history)
    rows = recur.services.db.fetchall("SELECT kind, status, last_error FROM email_outbox WHERE recipient = %s ORDER BY id", (email,))
    assert [(kind, status) for kind, status, _ in rows] == [("payment_receipt", "failed"), ("cancelled", "failed")]
    assert "SMTPUTF8" in rows[0][2]


def test_a_subscription_told_before_its_producer_is_written_with_the_producers_name_from_the_event_store(
    recur: Running, producer: Any
) -> None:
    """The catalog and subscription topics reach the notifier side by side, in no order between them."""
    plan = producer.new_plan(product_name="Ukulele")
    sub = subscribe(producer, plan["id"], address("early"))
    recur.mail.one(sub["subscriber"]["email"], "payment_receipt")
    other, email = str(uuid4()), address("before-producer")
    history = [(topic, partition, json.loads(json.dumps(event).replace(sub["id"], other).replace(sub["subscriber"]["email"], email)))
               for page in event_pages(recur.services.events, 0) for topic, partition, event in page
               if event["aggregate_id"] == sub["id"]]
    with recur.services.db.transaction() as cur:
        cur.execute("DELETE FROM mail_names WHERE id IN (%s, %s)", (sub["producer_id"], sub["product_id"]))  # not arrived yet
        apply_events(cur, notifier, history)

    receipt = recur.mail.one(email, "payment_receipt")
    assert receipt.message["From"].addresses[0].display_name == "Ana Courses"
    assert "Ukulele" in text_of(receipt)
