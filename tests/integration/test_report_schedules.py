"""Report schedules over HTTP, and the reports they send as the sandbox clock passes each period's end: one message per
recipient per period in the e-mail outbox, carrying the very file the report endpoint gives for that period.

Schedules are due work on the clock every test shares: each test deletes what it created, or every later clock
advance of the session would step through its periods.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from recur_api import Api

from recur.projections.rebuild import differences
from recur.projections.registry import PROJECTIONS
from recur.scheduler import run_due

ADMIN = "adm_integration"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LISBON = ZoneInfo("Europe/Lisbon")


@dataclass(frozen=True)
class Mail:
    recipient: str
    dedup_key: str
    decided_at: datetime
    message: EmailMessage

    @property
    def period_start(self) -> str:
        return self.dedup_key.split(":")[2]

    def attachment(self) -> tuple[str, str, bytes]:
        (part,) = list(self.message.iter_attachments())
        content: bytes = part.get_payload(decode=True)
        return str(part.get_filename()), part.get_content_type(), content


@pytest.fixture
def schedules(admin: Api) -> Iterator[list[str]]:
    """Ids of the schedules a test creates, deleted when it ends."""
    created: list[str] = []
    yield created
    for schedule_id in created:
        admin.request("DELETE", f"/v1/report-schedules/{schedule_id}")


def clock(admin: Api) -> datetime:
    return datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])


def advance_to(admin: Api, moment: datetime, run_due: bool = True) -> None:
    admin.post("/v1/sandbox/clock/advance", {"to": moment.isoformat(), "run_due": run_due})


def next_utc_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1), time(), UTC)


def schedule(producer: Api, schedules: list[str], **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = producer.post("/v1/report-schedules", {"report": "sales", "frequency": "daily", "format": "csv",
                                                                     "recipients": ["finance@example.com"], **body}, expect=201)
    schedules.append(created["id"])
    return created


def outbox(recur: Any, schedule_id: str) -> list[Mail]:
    rows = recur.services.db.fetchall(
        "SELECT recipient, dedup_key, decided_at, message FROM email_outbox WHERE kind = 'report' AND dedup_key LIKE %s ORDER BY id",
        (f"report:{schedule_id}:%",))
    return [Mail(recipient, key, decided_at, email.message_from_bytes(bytes(message), policy=email.policy.default))  # type: ignore[arg-type]
            for recipient, key, decided_at, message in rows]


def endpoint_file(recur: Any, producer: Api, path: str) -> bytes:
    answer = recur.client.get(path, headers={"Authorization": f"Bearer {producer.token}"})
    assert answer.status_code == 200, answer.get_json()
    content: bytes = answer.data
    return content


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


# ---------------------------------------------------------------- the resource
def test_a_schedule_is_created_read_listed_and_deleted(producer: Api, recur: Any, schedules: list[str]) -> None:
    created = schedule(producer, schedules, report="installments", frequency="weekly", format="xlsx",
                       recipients=["Finance@Example.com", "ceo@example.com", "finance@example.COM"], time_zone="America/Sao_Paulo")

    assert created["recipients"] == ["Finance@Example.com", "ceo@example.com"]
    assert (created["report"], created["frequency"], created["format"], created["time_zone"]) == (
        "installments", "weekly", "xlsx", "America/Sao_Paulo")
    next_report = datetime.fromisoformat(created["next_report_at"]).astimezone(SAO_PAULO)
    assert (next_report.weekday(), next_report.time()) == (0, time())  # a Monday, at local midnight
    assert timedelta(0) < next_report - datetime.fromisoformat(created["created_at"]) <= timedelta(days=7)
    assert producer.get(f"/v1/report-schedules/{created['id']}") == created
    recur.caught_up()
    assert [item["id"] for item in producer.get("/v1/report-schedules")["items"]] == [created["id"]]

    producer.request("DELETE", f"/v1/report-schedules/{created['id']}", expect=204)

    producer.get(f"/v1/report-schedules/{created['id']}", expect=404)
    producer.request("DELETE", f"/v1/report-schedules/{created['id']}", expect=404)  # a deleted schedule is gone
    recur.caught_up()
    assert producer.get("/v1/report-schedules")["items"] == []


def test_the_time_zone_is_utc_unless_one_is_given(producer: Api, schedules: list[str]) -> None:
    created = schedule(producer, schedules, frequency="monthly")

    assert created["time_zone"] == "UTC"
    next_report = datetime.fromisoformat(created["next_report_at"])
    assert (next_report.day, next_report.time(), next_report.utcoffset()) == (1, time(), timedelta(0))


@pytest.mark.parametrize(("change", "field"), [
    ({"report": "refunds"}, "report"),
    ({"frequency": "hourly"}, "frequency"),
    ({"format": "pdf"}, "format"),
    ({"recipients": []}, "recipients"),
    ({"recipients": ["not an address"]}, "recipients"),
    ({"recipients": ["zoë@example.com"]}, "recipients"),  # a mailbox name outside ASCII: recur does not use SMTPUTF8
    ({"recipients": [f"staff{n}@example.com" for n in range(21)]}, "recipients"),
    ({"recipients": "finance@example.com"}, "recipients"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "america/sao_paulo"}, "time_zone"),
    ({"time_zone": "Europe/Lisbon\x00"}, "time_zone"),
])
def test_an_invalid_field_is_a_422_naming_it_and_schedules_nothing(producer: Api, recur: Any, change: dict[str, Any], field: str) -> None:
    body = {"report": "sales", "frequency": "daily", "format": "csv", "recipients": ["finance@example.com"], **change}

    problem = producer.post("/v1/report-schedules", body, expect=422)

    assert field in problem["errors"]
    recur.caught_up()
    assert producer.get("/v1/report-schedules")["items"] == []


def test_the_admin_schedules_for_a_producer_it_names(admin: Api, producer: Api, schedules: list[str]) -> None:
    mine = schedule(producer, schedules)
    body = {"report": "subscriptions", "frequency": "monthly", "format": "csv", "recipients": ["ops@example.com"]}

    assert "producer_id" in admin.post("/v1/report-schedules", body, expect=422)["errors"]
    admin.post("/v1/report-schedules", {**body, "producer_id": "2f1c5bb5-0000-4000-8000-000000000000"}, expect=404)
    for_producer = admin.post("/v1/report-schedules", {**body, "producer_id": mine["producer_id"]}, expect=201)
    schedules.append(for_producer["id"])

    assert for_producer["producer_id"] == mine["producer_id"]
    assert producer.get(f"/v1/report-schedules/{for_producer['id']}")["report"] == "subscriptions"


def test_another_producers_schedule_is_not_found(api: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    theirs = schedule(api.new_producer(ADMIN, "Other Producer"), schedules)

    producer.get(f"/v1/report-schedules/{theirs['id']}", expect=404)
    producer.request("DELETE", f"/v1/report-schedules/{theirs['id']}", expect=404)
    recur.caught_up()
    assert producer.get(f"/v1/report-schedules?producer_id={theirs['producer_id']}")["items"] == []
    assert [item["id"] for item in api.as_(ADMIN).get(f"/v1/report-schedules?producer_id={theirs['producer_id']}")["items"]] == [
        theirs["id"]]


def test_a_repeated_post_with_the_same_idempotency_key_schedules_once(producer: Api, recur: Any, schedules: list[str]) -> None:
    body = {"report": "sales", "frequency": "daily", "format": "csv", "recipients": ["finance@example.com"]}

    first = producer.post("/v1/report-schedules", body, expect=201, Idempotency_Key="d7c1a2f0-schedule")
    again = producer.post("/v1/report-schedules", body, expect=201, Idempotency_Key="d7c1a2f0-schedule")
    schedules.append(first["id"])

    assert again == first
    recur.caught_up()
    assert [item["id"] for item in producer.get("/v1/report-schedules")["items"]] == [first["id"]]


def test_the_list_pages_with_a_cursor(producer: Api, recur: Any, schedules: list[str]) -> None:
    made = [schedule(producer, schedules, recipients=[f"staff{n}@example.com"])["id"] for n in range(3)]
    recur.caught_up()

    first = producer.get("/v1/report-schedules?limit=2")
    rest = producer.get(f"/v1/report-schedules?limit=2&cursor={first['next_cursor']}")

    listed = [item["id"] for item in first["items"] + rest["items"]]
    assert sorted(listed) == sorted(made) and len(first["items"]) == 2  # each once (the clock stood still: by id)
    assert rest["next_cursor"] is None


def test_a_rebuild_of_the_report_schedules_equals_the_live_table(producer: Api, recur: Any, schedules: list[str]) -> None:
    kept = schedule(producer, schedules)
    deleted = schedule(producer, [])
    producer.request("DELETE", f"/v1/report-schedules/{deleted['id']}", expect=204)
    recur.caught_up()

    assert differences(recur.services.db, recur.services.events, [PROJECTIONS["report_schedules"]]) == {"rm_report_schedules": 0}
    assert kept["id"] != deleted["id"]


# ---------------------------------------------------------------- the reports sent
def test_each_recipient_gets_each_days_sales_once_with_the_file_the_report_endpoint_gives(
        admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    day0 = next_utc_midnight(clock(admin))
    advance_to(admin, day0 + timedelta(hours=10))
    sale = producer.subscribe(producer.new_plan()["id"])
    daily = schedule(producer, schedules, recipients=["Finance@example.com", "ceo@example.com", "finance@EXAMPLE.com"])
    assert daily["next_report_at"] == (day0 + timedelta(days=1)).isoformat()

    advance_to(admin, day0 + timedelta(days=1, hours=1))

    mails = outbox(recur, daily["id"])
    assert [(m.recipient, m.period_start, m.decided_at) for m in mails] == [
        ("Finance@example.com", day0.date().isoformat(), day0 + timedelta(days=1)),
        ("ceo@example.com", day0.date().isoformat(), day0 + timedelta(days=1)),
    ]
    filename, content_type, content = mails[0].attachment()
    assert (filename, content_type) == (f"sales-report-{day0.date()}--{day0.date()}.csv", "text/csv")
    assert mails[1].attachment() == mails[0].attachment()
    assert mails[0].message["To"] == "Finance@example.com"
    assert content == endpoint_file(recur, producer, f"/v1/reports/sales?from={day0.date()}&to={day0.date()}&format=csv")
    (row,) = csv.DictReader(io.StringIO(content.decode()))
    assert (row["subscription_id"], row["status"], row["amount.amount"]) == (sale["id"], "approved", "4990")
    assert producer.get(f"/v1/report-schedules/{daily['id']}")["next_report_at"] == (day0 + timedelta(days=2)).isoformat()

    advance_to(admin, day0 + timedelta(days=3, hours=1))

    later = outbox(recur, daily["id"])[2:]
    assert [(m.period_start, m.decided_at) for m in later] == [  # each day its own step, oldest first
        ((day0 + timedelta(days=1)).date().isoformat(), day0 + timedelta(days=2)),
        ((day0 + timedelta(days=1)).date().isoformat(), day0 + timedelta(days=2)),
        ((day0 + timedelta(days=2)).date().isoformat(), day0 + timedelta(days=3)),
        ((day0 + timedelta(days=2)).date().isoformat(), day0 + timedelta(days=3)),
    ]
    empty_day = list(csv.reader(io.StringIO(later[0].attachment()[2].decode())))
    assert len(empty_day) == 1 and "transaction_id" in empty_day[0]  # the header only: nothing was sold that day

    for _ in range(2):
        assert run_due(recur.services, clock(admin)).reports == 0  # at the same instant again: nothing more
    assert len(outbox(recur, daily["id"])) == 6


def test_a_report_shows_its_period_as_it_ended_before_anything_due_at_that_instant_runs(
        admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    day0 = next_utc_midnight(clock(admin))
    advance_to(admin, day0)
    trial = producer.subscribe(producer.new_plan(trial_days=1)["id"])  # its first charge falls due as the day ends
    daily = schedule(producer, schedules, report="subscriptions")

    advance_to(admin, day0 + timedelta(days=1, hours=1))

    (mail,) = outbox(recur, daily["id"])
    (row,) = csv.DictReader(io.StringIO(mail.attachment()[2].decode()))
    assert (row["subscription_id"], row["status"]) == (trial["id"], "trialing")
    assert producer.get(f"/v1/subscriptions/{trial['id']}")["status"] == "active"


def test_a_clock_that_jumps_several_days_reports_each_missed_one_once_oldest_first_even_with_two_schedulers(
        admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    day0 = next_utc_midnight(clock(admin))
    advance_to(admin, day0 + timedelta(hours=1))
    daily = schedule(producer, schedules, recipients=["finance@example.com"])
    recur.caught_up()
    advance_to(admin, day0 + timedelta(days=4, hours=1), run_due=False)  # time moves; nothing runs yet
    now = clock(admin)
    reports: list[int] = []

    def scheduler() -> None:
        reports.append(run_due(recur.services, now).reports)

    racing = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join()

    assert [m.period_start for m in outbox(recur, daily["id"])] == [(day0 + timedelta(days=n)).date().isoformat() for n in range(4)]
    assert sum(reports) == 4


def test_a_deleted_schedule_sends_nothing_more(admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    daily = schedule(producer, schedules)
    producer.request("DELETE", f"/v1/report-schedules/{daily['id']}", expect=204)

    advance_to(admin, next_utc_midnight(clock(admin)) + timedelta(days=1, hours=1))

    assert outbox(recur, daily["id"]) == []


def test_a_weekly_report_covers_monday_to_sunday_in_the_schedules_time_zone(
        admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    start = clock(admin)
    producer.subscribe(producer.new_plan()["id"])
    weekly = schedule(producer, schedules, report="subscriptions", frequency="weekly", format="xlsx", time_zone="America/Sao_Paulo")
    local_today = start.astimezone(SAO_PAULO).date()
    monday = local_today - timedelta(days=local_today.weekday())
    week_end = datetime.combine(monday + timedelta(days=7), time(), SAO_PAULO)
    assert datetime.fromisoformat(weekly["next_report_at"]) == week_end

    advance_to(admin, week_end + timedelta(hours=1))

    (mail,) = outbox(recur, weekly["id"])
    filename, content_type, content = mail.attachment()
    sunday = monday + timedelta(days=6)
    assert (mail.period_start, mail.decided_at) == (monday.isoformat(), week_end)
    assert filename == f"subscriptions-report-{monday}--{sunday}.xlsx"
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    week_start = datetime.combine(monday, time(), SAO_PAULO)
    period = f"from={week_start.isoformat()}&to={week_end.isoformat()}".replace("+", "%2B")
    sheet = xlsx_rows(content)
    assert sheet == xlsx_rows(endpoint_file(recur, producer, f"/v1/reports/subscriptions?{period}&format=xlsx"))
    listed = producer.get(f"/v1/reports/subscriptions?{period}")["items"]
    ids = sheet[0].index("subscription_id")
    assert [row[ids] for row in sheet[1:]] == [item["subscription_id"] for item in listed] and len(listed) == 1


def test_a_monthly_report_in_lisbon_ends_at_lisbon_midnight_on_the_first(
        admin: Api, producer: Api, recur: Any, schedules: list[str]) -> None:
    monthly = schedule(producer, schedules, frequency="monthly", time_zone="Europe/Lisbon")
    local_today = clock(admin).astimezone(LISBON).date()
    first_of_next = (local_today.replace(day=28) + timedelta(days=4)).replace(day=1)
    month_end = datetime.combine(first_of_next, time(), LISBON)
    assert datetime.fromisoformat(monthly["next_report_at"]) == month_end

    advance_to(admin, month_end + timedelta(minutes=30))

    (mail,) = outbox(recur, monthly["id"])
    last_day: date = first_of_next - timedelta(days=1)
    assert mail.attachment()[0] == f"sales-report-{local_today.replace(day=1)}--{last_day}.csv"
    assert mail.decided_at == month_end


def test_the_report_reaches_the_recipients_mail_server_with_its_file(recur: Any, producer: Api, admin: Api,
                                                                      schedules: list[str]) -> None:
    recipient = f"finance-{uuid.uuid4().hex[:8]}@example.com"
    created = schedule(producer, schedules, recipients=[recipient])
    advance_to(admin, next_utc_midnight(clock(admin)) + timedelta(minutes=1))

    received = recur.mail.one(recipient, "report")
    (decided,) = outbox(recur, created["id"])
    (part,) = list(received.message.iter_attachments())
    assert (part.get_filename(), part.get_payload(decode=True)) == decided.attachment()[::2]
    assert received.message["From"].addresses[0].display_name == "recur"
