"""Reports and the cancellation dashboard match figures computed by hand.

The month: four monthly subscriptions (50.00 BRL) start on its first day. A subscriber cancels at noon on
day 5, the seller on day 10, an admin on day 15. The fourth renews on the next month's first day: refused, then
approved on the first retry three days later (5 retries in 15 days).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from recur_api import Api, flask_call, next_month_start

ADMIN = "adm_integration"


@pytest.fixture(scope="module")
def month(recur: Any) -> dict[str, Any]:
    api = Api(flask_call(recur.client))
    admin = api.as_(ADMIN)
    now = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])
    m0 = next_month_start(now)
    admin.post("/v1/sandbox/clock/advance", {"to": m0.isoformat()})
    producer = api.new_producer(ADMIN, "Dashboard Producer")
    plan = producer.new_plan(price={"amount": 5000, "currency": "BRL"})
    subs = [producer.subscribe(plan["id"]) for _ in range(3)]
    recovering_card = producer.card()
    admin.post(f"/v1/sandbox/card-tokens/{recovering_card}/outcomes", {"outcomes": ["approved", "insufficient_funds", "approved"]},
               expect=201)
    recovering = producer.subscribe(plan["id"], recovering_card)

    def cancel_on(day: int, api_as: Api, sub: dict[str, Any]) -> None:
        admin.post("/v1/sandbox/clock/advance", {"to": (m0 + timedelta(days=day - 1, hours=12)).isoformat()})
        api_as.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "test"})

    cancel_on(5, producer.as_(subs[0]["subscriber_token"]), subs[0])
    cancel_on(10, producer, subs[1])
    cancel_on(15, admin, subs[2])
    m1 = next_month_start(m0)
    admin.post("/v1/sandbox/clock/advance", {"to": (m1 + timedelta(days=10)).isoformat()})
    recur.caught_up()
    return {"m0": m0, "m1": m1, "producer": producer, "plan": plan, "subs": subs, "recovering": recovering, "admin": admin}


def test_the_recovered_subscription_paid_twice_after_one_refusal(month: dict[str, Any]) -> None:
    sub = month["producer"].get(f"/v1/subscriptions/{month['recovering']['id']}")
    assert sub["status"] == "active"
    assert sub["paid_recurrences"] == 2
    assert sub["total_paid"] == {"amount": 10000, "currency": "BRL"}


def test_the_dashboard_counts_each_origin_and_rates_over_the_subscriptions_active_at_the_start(month: dict[str, Any]) -> None:
    m0, m1 = month["m0"], month["m1"]
    start = (m0 + timedelta(days=1)).date().isoformat()
    end = (m1 + timedelta(days=9)).date().isoformat()
    board = month["producer"].get(f"/v1/dashboards/cancellations?from={start}&to={end}")
    assert board["cancellations"] == 3
    assert board["active_at_start"] == 4
    assert board["cancellation_rate"] == 0.75
    assert board["by_origin"] == {"customer": 1, "admin": 1, "seller": 1}
    first, second = board["monthly"]
    assert first == {"month": m0.strftime("%Y-%m"), "active_at_start": 4, "cancellations": 3, "rate": 0.75,
                     "by_origin": {"customer": 1, "admin": 1, "seller": 1}}
    assert second == {"month": m1.strftime("%Y-%m"), "active_at_start": 1, "cancellations": 0, "rate": 0.0,
                      "by_origin": {"customer": 0, "admin": 0, "seller": 0}}
    daily = {d["date"]: d for d in board["daily"]}
    assert len(daily) == (m1 + timedelta(days=10) - (m0 + timedelta(days=1))).days
    day5 = (m0 + timedelta(days=4)).date().isoformat()
    day6 = (m0 + timedelta(days=5)).date().isoformat()
    assert daily[day5]["cancellations"] == 1 and daily[day5]["by_origin"]["customer"] == 1 and daily[day5]["active"] == 4
    assert daily[day6]["active"] == 3
    # The recovering subscription stays active (past_due counts as active) through its retry.
    assert daily[(m1 + timedelta(days=2)).date().isoformat()]["active"] == 1
    # Lifetimes of 4.5, 9.5 and 14.5 days: a mean of 9.5 days = 0.31 months; each paid one charge of 50.00.
    assert board["lt_months"] == round(9.5 / 30.4375, 2)
    assert board["ltv"] == {"amount": 5000, "currency": "BRL"}
    assert board["avg_paid_recurrences"] == 1.0


def test_the_dashboard_filters_by_plan(month: dict[str, Any]) -> None:
    m0 = month["m0"]
    other_plan = month["producer"].new_plan(product_name="Other")
    start = (m0 + timedelta(days=1)).date().isoformat()
    board = month["producer"].get(f"/v1/dashboards/cancellations?from={start}&to={start}&plan_id={other_plan['id']}")
    assert board["cancellations"] == 0 and board["active_at_start"] == 0 and board["cancellation_rate"] == 0.0


def test_the_sales_report_lists_every_attempt_with_its_outcome(month: dict[str, Any]) -> None:
    m0, m1 = month["m0"], month["m1"]
    report = month["producer"].get(f"/v1/reports/sales?from={m0.date()}&to={(m1 + timedelta(days=9)).date()}")
    items = report["items"]
    assert sorted(i["status"] for i in items) == ["approved"] * 5 + ["declined"]
    recovering = [i for i in items if i["subscription_id"] == month["recovering"]["id"]]
    assert [(i["status"], i["installment"]) for i in recovering] == [
        ("approved", {"number": 1, "total": 1}), ("declined", {"number": 1, "total": 1}), ("approved", {"number": 1, "total": 1})]
    first = items[0]
    assert first["buyer"] == {"name": "Bia Souza", "email": "bia@example.com"}
    assert first["product_name"] == "Guitar course" and first["amount"] == {"amount": 5000, "currency": "BRL"}
    assert first["is_subscription"] is True and first["payment_method"] == "card"


def test_reports_page_with_a_cursor(month: dict[str, Any]) -> None:
    m0, m1 = month["m0"], month["m1"]
    url = f"/v1/reports/sales?from={m0.date()}&to={(m1 + timedelta(days=9)).date()}&limit=4"
    page = month["producer"].get(url)
    rest = month["producer"].get(url + f"&cursor={page['next_cursor']}")
    ids = [i["transaction_id"] for i in page["items"] + rest["items"]]
    assert len(ids) == 6 == len(set(ids)) and rest["next_cursor"] is None


def test_the_subscriptions_report_has_paid_recurrences_and_totals(month: dict[str, Any]) -> None:
    m0 = month["m0"]
    items = month["producer"].get(f"/v1/reports/subscriptions?from={m0.date()}&to={(m0 + timedelta(days=60)).date()}")["items"]
    by_id = {i["subscription_id"]: i for i in items}
    assert len(by_id) == 4
    assert by_id[month["recovering"]["id"]]["paid_recurrences"] == 2
    assert by_id[month["recovering"]["id"]]["total_paid"] == {"amount": 10000, "currency": "BRL"}
    assert sorted(i["status"] for i in items) == ["active", "cancelled", "cancelled", "cancelled"]


def test_reports_export_as_csv_and_xlsx(month: dict[str, Any], recur: Any) -> None:
    m0 = month["m0"]
    headers = {"Authorization": f"Bearer {month['producer'].token}"}
    url = f"/v1/reports/sales?from={m0.date()}&to={(m0 + timedelta(days=60)).date()}"
    as_csv = recur.client.get(url + "&format=csv", headers=headers)
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert len(rows) == 6 and rows[0]["buyer.email"] == "bia@example.com" and rows[0]["amount.amount"] == "5000"
    as_xlsx = recur.client.get(url + "&format=xlsx", headers=headers)
    sheet = load_workbook(io.BytesIO(as_xlsx.get_data())).active
    values = list(sheet.values)
    assert values[0][0] == "transaction_id" and len(values) == 7


def test_report_parameters_are_validated(month: dict[str, Any]) -> None:
    producer = month["producer"]
    assert "format" in producer.get("/v1/reports/sales?format=pdf", expect=422)["errors"]
    assert "from" in producer.get("/v1/reports/sales?from=yesterday", expect=422)["errors"]
    assert "from" in producer.get("/v1/reports/sales?from=2026-02-01&to=2026-01-01", expect=422)["errors"]
    assert "producer_id" in month["admin"].get("/v1/dashboards/cancellations", expect=422)["errors"]
    assert "cursor" in producer.get("/v1/reports/sales?cursor=zzz", expect=422)["errors"]


def test_an_admin_reads_a_producers_dashboard_with_producer_id(month: dict[str, Any]) -> None:
    m0 = month["m0"]
    producer_id = month["plan"]["producer_id"]
    until = (m0 + timedelta(days=20)).date()
    board = month["admin"].get(f"/v1/dashboards/cancellations?producer_id={producer_id}&from={m0.date()}&to={until}")
    assert board["cancellations"] == 3
    assert datetime.fromisoformat(board["from"]) == m0.replace(tzinfo=UTC)


def test_a_buyer_named_like_a_formula_is_plain_text_in_csv_and_xlsx_exports(recur: Any) -> None:
    api = Api(flask_call(recur.client))
    producer = api.new_producer(ADMIN, "Export Producer")
    formula = '=HYPERLINK("http://x","y")'
    producer.post("/v1/subscriptions", {"plan_id": producer.new_plan()["id"], "subscriber": {"name": formula, "email": "x@example.com"},
                                        "payment_method": {"type": "card", "card_token": producer.card()}}, expect=201)
    recur.caught_up()
    today = datetime.fromisoformat(api.as_(ADMIN).get("/v1/sandbox/clock")["now"]).date()
    url = f"/v1/reports/subscriptions?from={today - timedelta(days=1)}&to={today}&format="
    headers = {"Authorization": f"Bearer {producer.token}"}
    rows = list(csv.DictReader(io.StringIO(recur.client.get(url + "csv", headers=headers).get_data(as_text=True))))
    assert [row["subscriber.name"] for row in rows] == ["'" + formula]
    sheet = load_workbook(io.BytesIO(recur.client.get(url + "xlsx", headers=headers).get_data())).active
    header = [cell.value for cell in sheet[1]]
    name_cell = sheet[2][header.index("subscriber.name")]
    assert name_cell.data_type == "s" and name_cell.value == "'" + formula
