"""The cancellation dashboard in a real browser: a producer signs in through the form and reads charts drawn by
pygal, counted in the live DOM, against a quarter produced through the HTTP API and the sandbox clock.

The quarter: five monthly subscriptions of 50.00 BRL start on the first day of month 0. The subscriber cancels one
on day 5 and the seller one on day 10 of month 0; an admin cancels one on day 15 of month 1; the subscriber cancels
one on day 3 of month 2; the fifth keeps renewing. The page shows month 0 (from its second day) to day 20 of month 2.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from recur_api import Api, http_call, next_month_start

PAGE = "/dashboard/cancellations"


@pytest.fixture(scope="module")
def quarter(live_recur: Any, admin_token: str) -> dict[str, Any]:
    api = Api(http_call(live_recur.url))
    admin = api.as_(admin_token)
    m0 = next_month_start(datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"]))
    m1, m2 = next_month_start(m0), next_month_start(next_month_start(m0))
    admin.post("/v1/sandbox/clock/advance", {"to": m0.isoformat()})
    producer = api.new_producer(admin_token, "Browser Producer")
    plan = producer.new_plan(price={"amount": 5000, "currency": "BRL"})
    subs = [producer.subscribe(plan["id"]) for _ in range(5)]

    def cancel_on(month: datetime, day: int, api_as: Api, sub: dict[str, Any]) -> datetime:
        at = month + timedelta(days=day - 1, hours=12)
        admin.post("/v1/sandbox/clock/advance", {"to": at.isoformat()})
        api_as.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "browser test"})
        return at

    cancelled_at = [
        cancel_on(m0, 5, producer.as_(subs[0]["subscriber_token"]), subs[0]),
        cancel_on(m0, 10, producer, subs[1]),
        cancel_on(m1, 15, admin, subs[2]),
        cancel_on(m2, 3, producer.as_(subs[3]["subscriber_token"]), subs[3]),
    ]
    end = m2 + timedelta(days=20)
    admin.post("/v1/sandbox/clock/advance", {"to": end.isoformat()})
    start = m0 + timedelta(days=1)
    period = {"from": start.date().isoformat(), "to": (end - timedelta(days=1)).date().isoformat()}
    return {"m0": m0, "m1": m1, "m2": m2, "start": start, "end": end, "period": period, "producer": producer,
            "cancelled_at": cancelled_at, "json": producer.get(f"/v1/dashboards/cancellations?{urlencode(period)}")}


def texts(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_text_contents()]


def test_a_producer_signs_in_and_reads_the_quarter(chromium: Any, live_recur: Any, quarter: dict[str, Any], artifacts: Path) -> None:
    base = live_recur.url
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    query = urlencode(quarter["period"])
    page.goto(f"{base}{PAGE}?{query}")
    assert page.locator("#api_key").is_visible() and page.locator("[data-metric]").count() == 0
    page.fill("#api_key", "rk_wrong_key")
    page.click("form button[type=submit]")
    assert "not valid" in page.inner_text("#sign-in-error")
    page.screenshot(path=str(artifacts / "dashboard-sign-in.png"))
    page.fill("#api_key", quarter["producer"].token)
    page.click("form button[type=submit]")
    page.wait_for_selector("[data-metric=cancellations]")
    # The Secure cookie came back over plain http: Chromium treats 127.0.0.1 as a secure context.
    assert page.url == f"{base}{PAGE}?{query}"
    cookie = next(c for c in context.cookies() if c["name"] == "recur_dashboard")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"
    assert "recur_dashboard" not in page.evaluate("document.cookie")

    m0, m1, m2 = quarter["m0"], quarter["m1"], quarter["m2"]
    months = [m.strftime("%Y-%m") for m in (m0, m1, m2)]
    assert page.inner_text("#producer-name") == "Browser Producer"
    assert page.inner_text("[data-metric=cancellations]") == "4"
    assert " ".join(page.inner_text("[data-metric=by-origin]").split()) == "2 customer · 1 admin · 1 seller"
    assert page.inner_text("[data-metric=rate]") == "80.0%" and page.inner_text("[data-metric=active-at-start]") == "5"
    lifetimes = [(at - m0).total_seconds() / 86400 for at in quarter["cancelled_at"]]
    assert page.inner_text("[data-metric=lt]") == f"{sum(lifetimes) / 4 / 30.4375:.2f}"
    assert page.inner_text("[data-metric=ltv]") == "R$ 87,50"  # (50 + 50 + 100 + 150) / 4
    assert page.inner_text("[data-metric=avg-paid-recurrences]") == "1.75"  # (1 + 1 + 2 + 3) / 4
    assert page.inner_text("[data-metric=lt]") == f"{quarter['json']['lt_months']:.2f}"

    # Chart 1: one pygal dot per month. Chart 2: three stacked series with one bar per month each.
    assert page.locator("#rate-chart svg circle.dot").count() == len(months)
    assert texts(page, "#rate-chart svg g.dots title") == [
        f"{months[0]}: 40.0% (2 of 5 active)", f"{months[1]}: 33.3% (1 of 3 active)", f"{months[2]}: 50.0% (1 of 2 active)"]
    assert page.locator("#origins-chart svg rect.rect").count() == 3 * len(months)
    for series in range(3):
        assert page.locator(f"#origins-chart svg g.serie-{series} rect.rect").count() == len(months)
    drawn = page.eval_on_selector_all("#origins-chart svg rect.rect", "rects => rects.filter(r => r.getBBox().height > 0).length")
    assert drawn == 4  # customer in months 0 and 2, seller in month 0, admin in month 1
    assert page.locator("#rate-chart svg").bounding_box()["width"] > 400

    days = (quarter["end"] - quarter["start"]).days
    assert page.locator("#daily tbody tr").count() == days
    day5 = (m0 + timedelta(days=4)).date().isoformat()
    assert texts(page, f"#daily tr[data-date='{day5}'] td") == [day5, "1", "1", "0", "0", "5"]
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # The filter form: month 2 alone gives one point and one bar per origin.
    page.fill("#from", m2.date().isoformat())
    page.click("#filters button[type=submit]")
    page.wait_for_url(f"**from={m2.date().isoformat()}**")
    assert page.locator("#rate-chart svg circle.dot").count() == 1
    assert page.locator("#origins-chart svg rect.rect").count() == 3
    assert page.inner_text("[data-metric=cancellations]") == "1"
    assert page.locator("#daily tbody tr").count() == 20

    invalid = page.goto(f"{base}{PAGE}?from=yesterday")
    assert invalid is not None and invalid.status == 422
    assert "from must be a date" in page.inner_text("#filter-error") and page.locator("[data-metric]").count() == 0
    page.screenshot(path=str(artifacts / "dashboard-invalid.png"))

    page.click("text=Sign out")
    page.wait_for_selector("#api_key")
    assert all(url.startswith(base + "/") or url.startswith("data:") for url in requests), requests
    # Only the deliberate 401 (wrong key) and 422 (invalid date) may be logged: no CSP report, no script error.
    assert [p for p in problems if not re.search(r"status of (401|422) ", p)] == []
    context.close()
