"""Hostile input gets a clear 4xx at the edge, and nothing downstream stops.

Each case below once answered 201 and then stopped the projections (PostgreSQL refuses NUL, lone
surrogates and integers beyond bigint, so the event could never be applied), or answered 500. Every
one must now be a 4xx problem+json naming what to fix; after all of them, another producer's new
subscription still travels event store -> relay -> Kafka -> read model and is listed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from recur_api import Api, flask_call

ADMIN = "adm_integration"
A_UUID = "6f1f0c3e-4f6e-4a52-9d5b-0d7c0a1e2b3c"
PLAN = {"name": "Monthly", "periodicity": "monthly", "price": {"amount": 4990, "currency": "BRL"}}
SUBSCRIBER = {"name": "Bia Souza", "email": "bia@example.com"}


def cursor(sort_key: str, row_id: str) -> str:
    """A cursor shaped like the API's own, carrying what the API never writes."""
    return base64.urlsafe_b64encode(json.dumps([sort_key, row_id]).encode()).decode()


@dataclass(frozen=True)
class Case:
    """One hostile request: `{product}`, `{plan}`, `{open_plan}` and `{subscription}` are the victim producer's ids."""

    method: str
    path: str
    body: Any = None
    raw: Callable[[Any], bytes] | None = None  # a body that is not JSON-encoded by the client (given the app)
    caller: str = "producer"  # producer | admin
    status: int = 422
    field: str | None = None  # the dotted field the problem names


def oversize_body(app: Any) -> bytes:
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit, "no request body size limit is configured"
    return b'{"name": "' + b"x" * limit + b'"}'


CASES = {
    "NUL in a product name": Case("POST", "/v1/products", {"name": "nul\u0000byte"}, field="name"),
    "lone surrogate in a product name": Case("POST", "/v1/products", {"name": "half \ud800 a character"}, field="name"),
    "product name of only spaces": Case("POST", "/v1/products", {"name": "   "}, field="name"),
    "NUL in a producer name": Case("POST", "/v1/producers", {"name": "a\u0000", "email": "a@example.com"}, caller="admin", field="name"),
    "plan price of 10**19 minor units": Case("POST", "/v1/products/{product}/plans",
                                            {**PLAN, "price": {"amount": 10**19, "currency": "BRL"}}, field="price.amount"),
    "plan in currency XYZ": Case("POST", "/v1/products/{product}/plans", {**PLAN, "price": {"amount": 100, "currency": "XYZ"}},
                                 field="price.currency"),
    "plan in currency AAA": Case("POST", "/v1/products/{product}/plans", {**PLAN, "price": {"amount": 100, "currency": "AAA"}},
                                 field="price.currency"),
    "reset_billing_date of yes": Case("POST", "/v1/products/{product}/plans", {**PLAN, "retry_policy": {"reset_billing_date": "yes"}},
                                      field="retry_policy.reset_billing_date"),
    "plan renamed to spaces": Case("PATCH", "/v1/plans/{plan}", {"name": " \t "}, field="name"),
    "plan repriced to 10**19": Case("PATCH", "/v1/plans/{plan}", {"price": {"amount": 10**19, "currency": "BRL"}}, field="price.amount"),
    "offer with a lone surrogate": Case("POST", "/v1/plans/{plan}/offers", {"name": "\udfff", "price": PLAN["price"]}, field="name"),
    "NUL in a subscriber name": Case("POST", "/v1/subscriptions", {
        "plan_id": "{open_plan}", "subscriber": {**SUBSCRIBER, "name": "Bia\u0000"}, "payment_method": {"type": "boleto"}},
        field="subscriber.name"),
    "lone surrogate in a subscriber name": Case("POST", "/v1/subscriptions", {
        "plan_id": "{open_plan}", "subscriber": {**SUBSCRIBER, "name": "Bia \udbff"}, "payment_method": {"type": "boleto"}},
        field="subscriber.name"),
    "subscriber address SMTP cannot carry": Case("POST", "/v1/subscriptions", {
        "plan_id": "{open_plan}", "subscriber": {**SUBSCRIBER, "email": "zoë@example.com"}, "payment_method": {"type": "boleto"}},
        field="subscriber.email"),
    "country that does not exist": Case("POST", "/v1/subscriptions", {
        "plan_id": "{open_plan}", "subscriber": {**SUBSCRIBER, "country": "XX"}, "payment_method": {"type": "boleto"}},
        field="subscriber.country"),
    "NUL in a card token": Case("PUT", "/v1/subscriptions/{subscription}/payment-method", {"type": "card", "card_token": "tok_\u0000"},
                                field="card_token"),
    "NUL in a cancellation reason": Case("POST", "/v1/subscriptions/{subscription}/cancel", {"reason": "bye\u0000"}, field="reason"),
    "NUL in a boleto id": Case("POST", "/v1/sandbox/boletos/%00/pay", caller="admin", status=404),
    "NUL in a card token's path": Case("POST", "/v1/sandbox/card-tokens/tok%00/outcomes", {"outcomes": ["approved"]}, caller="admin",
                                       status=404),
    "JSON nested 100,000 deep": Case("POST", "/v1/products", raw=lambda app: b"[" * 100_000 + b"]" * 100_000, status=400),
    "body over the size limit": Case("POST", "/v1/products", raw=oversize_body, status=413),
    "limit of a superscript two": Case("GET", "/v1/subscriptions?limit=%C2%B2", field="limit"),
    "cursor with a -23:59 offset": Case("GET", "/v1/subscriptions?cursor=" + cursor("2026-01-01T00:00:00-23:59", A_UUID), field="cursor"),
    "report cursor with a non-UUID id": Case("GET", "/v1/reports/subscriptions?cursor=" + cursor("2026-01-01T00:00:00+00:00", "x"),
                                             field="cursor"),
    "report cursor with a NUL in its id": Case("GET", "/v1/reports/sales?cursor=" + cursor("2026-01-01T00:00:00+00:00", "t\u0000"),
                                               field="cursor"),
    "sales report to 9999-12-31": Case("GET", "/v1/reports/sales?to=9999-12-31", field="to"),
    # Both ends lie outside what recur keeps: both are named, as a body's invalid fields all are.
    "installments report in 0001": Case("GET", "/v1/reports/installments?from=0001-01-01&to=0001-01-02", field="from,to"),
    "dashboard to 9999-12-31": Case("GET", "/v1/dashboards/cancellations?to=9999-12-31", field="to"),
    "dashboard in 0001": Case("GET", "/v1/dashboards/cancellations?from=0001-01-01&to=0001-02-01", field="from,to"),
    "run_due of yes": Case("POST", "/v1/sandbox/clock/advance", {"days": 1, "run_due": "yes"}, caller="admin", field="run_due"),
    "clock moved to 9999": Case("POST", "/v1/sandbox/clock/advance", {"to": "9999-12-31T00:00:00+00:00"}, caller="admin", field="to"),
    "clock moved ten years on": Case("POST", "/v1/sandbox/clock/advance", {"days": 3660}, caller="admin", field="days"),
}


def dotted(errors: dict[str, Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for key, value in errors.items():
        names |= dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return names


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def victim(recur: Any) -> dict[str, Any]:
    """A producer with a product, two plans and an active subscription: the ids the hostile paths name.

    Cases that revise `plan` never touch `open_plan`, which subscription cases start from, so that each
    case shows its own fault even where an earlier one was (wrongly) accepted."""
    producer = Api(flask_call(recur.client)).new_producer(ADMIN, "Victim Courses")
    plan = producer.new_plan()
    open_plan = producer.post(f"/v1/products/{plan['product_id']}/plans", PLAN, expect=201)
    subscription = producer.subscribe(open_plan["id"])
    return {"producer": producer,
            "ids": {"product": plan["product_id"], "plan": plan["id"], "open_plan": open_plan["id"], "subscription": subscription["id"]}}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_input_is_a_4xx_problem_naming_the_field(recur: Any, victim: dict[str, Any], case: Case) -> None:
    token = ADMIN if case.caller == "admin" else victim["producer"].token
    headers = {"Authorization": f"Bearer {token}"}
    path = case.path.format(**victim["ids"]) if "{" in case.path else case.path
    if case.raw is not None:
        response = recur.client.open(path, method=case.method, data=case.raw(recur.client.application), headers=headers,
                                     content_type="application/json")
    else:
        response = recur.client.open(path, method=case.method, json=filled(case.body, victim["ids"]), headers=headers)
    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == case.status
    if case.field is not None:
        assert dotted(problem["errors"]) == set(case.field.split(","))


def test_a_long_request_id_is_replaced_by_a_fresh_one_before_it_reaches_the_event_log(recur: Any, victim: dict[str, Any]) -> None:
    producer = victim["producer"]
    subscription_id = producer.subscribe(victim["ids"]["open_plan"])["id"]
    sent = "r" * 10_000
    response = recur.client.put(f"/v1/subscriptions/{subscription_id}/billing-day", json={"day": 5},
                                headers={"Authorization": f"Bearer {producer.token}", "X-Request-Id": sent})
    assert response.status_code == 200
    assigned = response.headers["X-Request-Id"]
    assert assigned != sent and 0 < len(assigned) <= 128
    stored = producer.get(f"/v1/subscriptions/{subscription_id}/events")["items"][-1]
    assert stored["request_id"] == assigned


def test_a_plain_request_id_is_kept_in_the_event_log(recur: Any, victim: dict[str, Any]) -> None:
    producer = victim["producer"]
    subscription_id = producer.subscribe(victim["ids"]["open_plan"])["id"]
    response = recur.client.put(f"/v1/subscriptions/{subscription_id}/billing-day", json={"day": 6},
                                headers={"Authorization": f"Bearer {producer.token}", "X-Request-Id": "checkout-42.retry:1"})
    assert response.headers["X-Request-Id"] == "checkout-42.retry:1"
    assert producer.get(f"/v1/subscriptions/{subscription_id}/events")["items"][-1]["request_id"] == "checkout-42.retry:1"


def test_another_producers_new_subscription_still_reaches_the_list_after_every_hostile_request(recur: Any) -> None:
    """Runs after the cases above (pytest keeps a module's order): had any of them been stored, the
    projections would be stuck on it and this subscription would never be listed."""
    api = Api(flask_call(recur.client))
    bystander = api.new_producer(ADMIN, "Bystander Courses")
    subscription = bystander.subscribe(bystander.new_plan()["id"])
    recur.caught_up()
    assert [s["id"] for s in bystander.get("/v1/subscriptions")["items"]] == [subscription["id"]]
    assert api.get("/readyz")["status"] == "ready"
