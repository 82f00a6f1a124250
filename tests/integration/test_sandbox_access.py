"""Who may use the sandbox (API.md, Sandbox): card tokens are public, as a buyer's browser makes them;
the outcome queues, the bank and the one clock every tenant shares are the admin's."""

from __future__ import annotations

from typing import Any

import pytest
from recur_api import Api, flask_call

ADMIN = "adm_integration"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@pytest.fixture
def api(recur: Any) -> Api:
    return Api(flask_call(recur.client))


@pytest.fixture
def producer(api: Api) -> Api:
    return api.new_producer(ADMIN, "Sandbox Producer")


def test_a_buyers_browser_tokenizes_a_card_without_credentials_and_may_repeat_it_with_an_idempotency_key(api: Api) -> None:
    first = api.post("/v1/sandbox/card-tokens", CARD, expect=201, Idempotency_Key="checkout-7")
    again = api.post("/v1/sandbox/card-tokens", CARD, expect=201, Idempotency_Key="checkout-7")
    assert again == first and first["last4"] == "4242"
    assert api.post("/v1/sandbox/card-tokens", {**CARD, "cvc": "999"}, expect=422, Idempotency_Key="checkout-7")["errors"] == {
        "Idempotency-Key": ["already used with a different body"]}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v1/sandbox/clock", None),
    ("POST", "/v1/sandbox/clock/advance", {"days": 1}),
    ("POST", "/v1/sandbox/card-tokens/{card}/outcomes", {"outcomes": ["insufficient_funds"]}),
    ("POST", "/v1/sandbox/boletos/{boleto}/pay", None),
])
def test_only_the_admin_moves_the_clock_queues_outcomes_or_pays_boletos(recur: Any, api: Api, producer: Api, method: str, path: str,
                                                                         body: Any) -> None:
    subscription = producer.subscribe(producer.new_plan()["id"], boleto=True)
    target = path.format(card=producer.card(), boleto=subscription["boleto"]["id"])
    clock_before = api.as_(ADMIN).get("/v1/sandbox/clock")["now"]

    anonymous = recur.client.open(target, method=method, json=body)
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"
    as_producer = recur.client.open(target, method=method, json=body, headers={"Authorization": f"Bearer {producer.token}"})
    assert as_producer.status_code == 404 and as_producer.mimetype == "application/problem+json"
    assert "Bia Souza" not in as_producer.get_data(as_text=True) and "bia@example.com" not in as_producer.get_data(as_text=True)
    assert api.as_(ADMIN).get("/v1/sandbox/clock")["now"] == clock_before
    assert producer.get(f"/v1/subscriptions/{subscription['id']}")["status"] == "pending"  # the boleto is still unpaid

    as_admin = recur.client.open(target, method=method, json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert as_admin.status_code in (200, 201)
