"""The cancellation dashboard web page: sign-in with the API key, session cookie, CSRF, figures and tenancy.

The month is the one of test_reports_and_dashboard: four monthly subscriptions of 50.00 BRL start on the first
day of a month; the subscriber cancels one on day 5, the seller one on day 10, an admin one on day 15, and the
fourth renews. Another producer has one subscription, cancelled by its seller on day 12.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from recur_api import Api, flask_call, next_month_start

ADMIN = "adm_integration"
PAGE = "/dashboard/cancellations"


@pytest.fixture(scope="module")
def month(recur: Any) -> dict[str, Any]:
    api = Api(flask_call(recur.client))
    admin = api.as_(ADMIN)
    m0 = next_month_start(datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"]))
    admin.post("/v1/sandbox/clock/advance", {"to": m0.isoformat()})
    producer = api.new_producer(ADMIN, "Page Producer")
    plan = producer.new_plan(price={"amount": 5000, "currency": "BRL"})
    subs = [producer.subscribe(plan["id"]) for _ in range(4)]
    other = api.new_producer(ADMIN, "Other Producer")
    other_plan = other.new_plan(product_name="Piano course", price={"amount": 9900, "currency": "USD"})
    other_sub = other.subscribe(other_plan["id"])

    def cancel_on(day: int, api_as: Api, sub: dict[str, Any]) -> None:
        admin.post("/v1/sandbox/clock/advance", {"to": (m0 + timedelta(days=day - 1, hours=12)).isoformat()})
        api_as.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "test"})

    cancel_on(5, producer.as_(subs[0]["subscriber_token"]), subs[0])
    cancel_on(10, producer, subs[1])
    cancel_on(12, other, other_sub)
    cancel_on(15, admin, subs[2])
    m1 = next_month_start(m0)
    admin.post("/v1/sandbox/clock/advance", {"to": (m1 + timedelta(days=10)).isoformat()})
    recur.caught_up()
    period = {"from": (m0 + timedelta(days=1)).date().isoformat(), "to": (m1 + timedelta(days=9)).date().isoformat()}
    return {"m0": m0, "m1": m1, "producer": producer, "plan": plan, "other": other, "other_plan": other_plan, "period": period}


@pytest.fixture
def browser(recur: Any) -> Any:
    """A client of its own per test: the shared one would carry one test's session cookie into the next."""
    return recur.client.application.test_client()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def sign_in(browser: Any, api_key: str, query: str = "") -> Any:
    form = browser.get(PAGE + query).get_data(as_text=True)
    return browser.post("/dashboard/sign-in", data={"csrf_token": csrf_of(form), "api_key": api_key,
                                                    "next_query": query.lstrip("?")})


def metric(html: str, name: str) -> str:
    found = re.search(rf'<(div|span) [^>]*data-metric="{name}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no {name} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())


def page(browser: Any, **params: str) -> Any:
    return browser.get(f"{PAGE}?{urlencode(params)}" if params else PAGE)


def test_the_page_asks_for_the_api_key_before_showing_anything(browser: Any) -> None:
    response = browser.get(PAGE)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'name="api_key"' in html and 'name="csrf_token"' in html
    assert "data-metric" not in html


def test_a_wrong_key_shows_the_form_again_with_401(browser: Any, month: dict[str, Any]) -> None:
    real = month["producer"].token
    plan_as_producer = f"rk_{month['plan']['id'].replace('-', '')}_secret"  # a real aggregate, but not a producer
    for key in (real[:-2] + "xx", "rk_nothex_secret", plan_as_producer, "adm_integration", ""):
        response = sign_in(browser, key)
        html = response.get_data(as_text=True)
        assert response.status_code == 401, key
        assert 'name="api_key"' in html and "not valid" in html and "data-metric" not in html
    assert 'name="api_key"' in browser.get(PAGE).get_data(as_text=True)


def test_the_form_warns_when_the_secure_cookie_cannot_come_back(recur: Any) -> None:
    client = recur.client.application.test_client()
    assert 'id="insecure"' not in client.get(PAGE).get_data(as_text=True)
    assert 'id="insecure"' not in client.get(PAGE, base_url="https://recur.example.com").get_data(as_text=True)
    assert 'id="insecure"' in client.get(PAGE, base_url="http://recur.example.com").get_data(as_text=True)


def test_money_is_written_as_producers_read_it() -> None:
    from recur.http.dashboard_page import money

    assert money(5000, "BRL") == "R$ 50,00" and money(123456789, "BRL") == "R$ 1.234.567,89"
    assert money(5000, "USD") == "USD 50.00" and money(123456, "EUR") == "EUR 1,234.56" and money(5000, "JPY") == "JPY 5,000"


def test_the_right_key_redirects_to_the_dashboard(browser: Any, month: dict[str, Any]) -> None:
    response = sign_in(browser, month["producer"].token)
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    html = browser.get(PAGE).get_data(as_text=True)
    assert "Page Producer" in html and 'data-metric="cancellations"' in html


def test_a_sign_in_without_the_forms_csrf_token_is_refused(browser: Any, month: dict[str, Any]) -> None:
    key = month["producer"].token
    browser.get(PAGE)  # the session now holds a token, which neither request below sends
    missing = browser.post("/dashboard/sign-in", data={"api_key": key})
    forged = browser.post("/dashboard/sign-in", data={"api_key": key, "csrf_token": "forged"})
    assert missing.status_code == forged.status_code == 403
    assert "expired" in missing.get_data(as_text=True)
    assert "data-metric" not in browser.get(PAGE).get_data(as_text=True)


def test_a_sign_in_from_a_fresh_browser_without_a_session_is_refused(recur: Any, month: dict[str, Any]) -> None:
    """A cross-site form carries no session cookie under SameSite=Lax, so it cannot carry a matching token either."""
    response = recur.client.application.test_client().post("/dashboard/sign-in", data={"api_key": month["producer"].token,
                                                                                        "csrf_token": ""})
    assert response.status_code == 403


def test_the_session_cookie_is_httponly_secure_and_samesite_lax(browser: Any, month: dict[str, Any]) -> None:
    response = sign_in(browser, month["producer"].token)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("recur_dashboard=")
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and "secure" in flags
    assert flags["samesite"] == "SameSite=Lax" and flags["path"] == "Path=/dashboard"


def test_the_page_shows_the_months_figures(browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    response = page(browser, **month["period"])
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert metric(html, "cancellations") == "3"
    assert metric(html, "by-origin") == "1 customer · 1 admin · 1 seller"
    assert metric(html, "rate") == "75.0%" and metric(html, "active-at-start") == "4"
    assert metric(html, "lt") == f"{9.5 / 30.4375:.2f}"
    assert metric(html, "ltv") == "R$ 50,00"
    assert metric(html, "avg-paid-recurrences") == "1.00"
    days = (month["m1"] + timedelta(days=10) - (month["m0"] + timedelta(days=1))).days
    assert len(re.findall(r"<tr[^>]*data-date=", html)) == days
    day5 = (month["m0"] + timedelta(days=4)).date().isoformat()
    row = re.search(rf'data-date="{day5}">(.*?)</tr>', html, re.S)
    assert row and re.findall(r"<td>([^<]*)</td>", row.group(1)) == [day5, "1", "1", "0", "0", "4"]


def test_the_charts_have_a_point_per_month_and_a_bar_per_origin_and_month(browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    html = page(browser, **month["period"]).get_data(as_text=True)
    rate_chart = html.split('id="rate-chart"')[1].split("</figure>")[0]
    origins_chart = html.split('id="origins-chart"')[1].split("</figure>")[0]
    assert len(re.findall(r'<circle[^>]*class="dot ', rate_chart)) == 2
    assert len(re.findall(r'<rect[^>]*class="rect ', origins_chart)) == 3 * 2
    assert f"<title>{month['m0']:%Y-%m}: 75.0% (3 of 4 active)</title>" in rate_chart
    assert f"<title>{month['m0']:%Y-%m}: 1 by seller</title>" in origins_chart


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script(browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    response = page(browser, **month["period"])
    html = response.get_data(as_text=True)
    assert "<script" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_another_producer_sees_only_its_own_numbers(browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["other"].token)
    first_producer = month["plan"]["producer_id"]
    html = page(browser, **month["period"], producer_id=first_producer).get_data(as_text=True)
    assert "Other Producer" in html and "Page Producer" not in html
    assert metric(html, "cancellations") == "1" and metric(html, "by-origin") == "0 customer · 0 admin · 1 seller"
    assert metric(html, "rate") == "100.0%" and metric(html, "ltv") == "USD 99.00"
    assert "Guitar course" not in html and "Piano course" in html
    refused = page(browser, **month["period"], product_id=month["plan"]["product_id"])
    assert refused.status_code == 422 and "product_id is not one of yours" in refused.get_data(as_text=True)


def test_filters_narrow_the_figures_to_a_product_or_plan(browser: Any, recur: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    html = page(browser, **month["period"], plan_id=month["plan"]["id"]).get_data(as_text=True)
    assert metric(html, "cancellations") == "3"
    assert f'<option value="{month["plan"]["id"]}" selected>' in html
    other_plan = month["producer"].new_plan(product_name="Drums course")
    recur.caught_up()
    html = page(browser, **month["period"], product_id=other_plan["product_id"]).get_data(as_text=True)
    assert metric(html, "cancellations") == "0" and metric(html, "rate") == "0.0%"


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "yesterday"}, "from must be a date"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from must be before to"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "limited to three years"),
    ({"plan_id": "not-a-uuid"}, "plan_id must be a UUID"),
    ({"to": "9999-12-31"}, "to must be between"),
    ({"from": "0001-01-01", "to": "0001-02-01"}, "to must be between"),
])
def test_invalid_parameters_show_an_error_on_the_page(browser: Any, month: dict[str, Any], params: dict[str, str], message: str) -> None:
    sign_in(browser, month["producer"].token)
    response = page(browser, **params)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert message in html and 'id="filters"' in html and "data-metric" not in html


def test_without_dates_the_page_shows_the_last_90_days(browser: Any, recur: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    html = page(browser).get_data(as_text=True)
    now = recur.services.clock.now()
    last_day = (now - timedelta(microseconds=1)).date()  # `to` is inclusive: a period ending at midnight ends the day before
    assert f'name="from" value="{(now - timedelta(days=90)).date().isoformat()}"' in html
    assert f'name="to" value="{last_day.isoformat()}"' in html
    assert len(re.findall(r"<tr[^>]*data-date=", html)) == (last_day - (now - timedelta(days=90)).date()).days + 1
    assert metric(html, "cancellations") == "3"


def test_the_filters_survive_the_sign_in(browser: Any, month: dict[str, Any]) -> None:
    query = "?" + urlencode(month["period"])
    response = sign_in(browser, month["producer"].token, query)
    assert response.status_code == 303 and response.headers["Location"] == PAGE + query


def test_signing_out_needs_the_pages_token_and_ends_the_session(browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    html = browser.get(PAGE).get_data(as_text=True)
    assert browser.post("/dashboard/sign-out", data={}).status_code == 403
    assert "data-metric" in browser.get(PAGE).get_data(as_text=True)
    response = browser.post("/dashboard/sign-out", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 303
    assert 'name="api_key"' in browser.get(PAGE).get_data(as_text=True)


def test_a_cookie_kept_from_before_signing_out_no_longer_opens_the_page(recur: Any, browser: Any, month: dict[str, Any]) -> None:
    sign_in(browser, month["producer"].token)
    html = browser.get(PAGE).get_data(as_text=True)
    kept = browser.get_cookie("recur_dashboard", path="/dashboard").value
    signed_out = browser.post("/dashboard/sign-out", data={"csrf_token": csrf_of(html)})
    assert "recur_dashboard=;" in signed_out.headers["Set-Cookie"]  # the browser is told to drop it
    replayed = recur.client.application.test_client()
    replayed.set_cookie("recur_dashboard", kept, path="/dashboard")
    page_html = replayed.get(PAGE).get_data(as_text=True)
    assert 'name="api_key"' in page_html and "data-metric" not in page_html


def test_every_worker_accepts_a_cookie_signed_by_another(recur: Any, browser: Any, month: dict[str, Any]) -> None:
    """gunicorn runs several workers, each building its app: the session key must not depend on the process."""
    from recur.http.app import create_app
    from recur.http.dashboard_page import session_secret

    sign_in(browser, month["producer"].token)
    cookie = browser.get_cookie("recur_dashboard", path="/dashboard")
    other_worker = create_app(recur.services).test_client()
    other_worker.set_cookie("recur_dashboard", cookie.value, path="/dashboard")
    assert "Page Producer" in other_worker.get(PAGE).get_data(as_text=True)
    assert session_secret("") != session_secret("")
