"""The first vertical slice through the real event store, relay, broker and projections."""

from __future__ import annotations

from typing import Any

import pytest
from recur_api import Api

ADMIN = "adm_integration"


def test_a_card_subscription_without_trial_is_charged_at_once_and_becomes_active(api: Api, producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"])
    assert sub["status"] == "active"
    assert sub["paid_recurrences"] == 1
    assert sub["total_paid"] == {"amount": 4990, "currency": "BRL"}
    assert sub["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242"}
    assert sub["subscriber_token"].startswith("st_")
    recur.caught_up()
    listed = producer.get("/v1/subscriptions")["items"]
    assert [(s["id"], s["status"], s["paid_recurrences"]) for s in listed] == [(sub["id"], "active", 1)]


def test_a_declined_first_charge_leaves_the_subscription_pending_never_active(producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"], producer.card("4000000000000002"))
    assert sub["status"] == "pending"
    assert sub["paid_recurrences"] == 0
    assert sub["retry"]["attempt"] == 1
    recur.caught_up()
    assert producer.get("/v1/subscriptions?status=pending")["items"][0]["id"] == sub["id"]
    assert producer.get("/v1/subscriptions?status=active")["items"] == []


def test_a_producer_never_sees_another_producers_data(api: Api, producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"])
    other = api.new_producer(ADMIN, "Other")
    other.get(f"/v1/subscriptions/{sub['id']}", expect=404)
    other.get(f"/v1/plans/{plan['id']}", expect=404)
    other.post(
        f"/v1/products/{plan['product_id']}/plans",
        {"name": "x", "periodicity": "monthly", "price": {"amount": 1, "currency": "BRL"}},
        expect=404,
    )
    other.subscribe(plan["id"], expect=404)
    recur.caught_up()
    assert other.get("/v1/subscriptions")["items"] == []


def test_the_subscriber_token_opens_only_its_own_subscription(producer: Api) -> None:
    plan = producer.new_plan()
    first = producer.subscribe(plan["id"])
    second = producer.subscribe(plan["id"])
    subscriber = producer.as_(first["subscriber_token"])
    assert subscriber.get(f"/v1/subscriptions/{first['id']}")["id"] == first["id"]
    subscriber.get(f"/v1/subscriptions/{second['id']}", expect=404)
    subscriber.get("/v1/subscriptions", expect=404)


def test_requests_without_valid_credentials_are_refused(api: Api) -> None:
    assert api.get("/v1/subscriptions", expect=401)["status"] == 401
    assert api.as_("rk_00000000000000000000000000000000_nope").get("/v1/products", expect=401)["type"].endswith("unauthorized")
    api.as_("adm_wrong").post("/v1/producers", {"name": "x", "email": "x@example.com"}, expect=401)


def test_every_401_names_the_bearer_scheme_it_wants(recur: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer adm_wrong"}, {"Authorization": "Basic YTpi"}):
        response = recur.client.get("/v1/products", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="recur"'


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_authorization_scheme_is_case_insensitive(recur: Any, producer: Api, scheme: str) -> None:
    response = recur.client.get("/v1/products", headers={"Authorization": f"{scheme} {producer.token}"})
    assert response.status_code == 200


def test_invalid_input_is_a_422_naming_each_field(producer: Api) -> None:
    product = producer.post("/v1/products", {"name": "Course"}, expect=201)
    problem = producer.post(
        f"/v1/products/{product['id']}/plans",
        {"name": "", "periodicity": "weekly", "price": {"amount": -5, "currency": "real"}, "retry_policy": {"max_retries": 11}},
        expect=422,
    )
    assert set(problem["errors"]) == {"name", "periodicity", "price", "retry_policy"}
    assert set(problem["errors"]["price"]) == {"amount", "currency"}
    assert "periodicity" in problem["detail"]


def test_an_annual_plan_cannot_be_split_in_more_than_twelve_installments(producer: Api) -> None:
    product = producer.post("/v1/products", {"name": "Course"}, expect=201)
    problem = producer.post(
        f"/v1/products/{product['id']}/plans",
        {"name": "Q", "periodicity": "quarterly", "price": {"amount": 100, "currency": "BRL"}, "max_installments": 4},
        expect=422,
    )
    assert "max_installments" in problem["errors"]


def test_malformed_json_is_a_400_that_says_what_to_fix(producer: Api, recur: Any) -> None:
    response = recur.client.post(
        "/v1/products", data="{", headers={"Authorization": f"Bearer {producer.token}", "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "valid JSON" in response.get_json()["detail"]


def test_an_unknown_card_token_is_a_field_error_and_starts_nothing(producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    problem = producer.subscribe(plan["id"], "tok_unknown", expect=422)
    assert "payment_method.card_token" in problem["errors"]
    recur.caught_up()
    assert producer.get("/v1/subscriptions")["items"] == []


def test_a_repeated_post_with_the_same_idempotency_key_has_no_second_effect(producer: Api, recur: Any) -> None:
    plan = producer.new_plan()
    body = {
        "plan_id": plan["id"],
        "subscriber": {"name": "Bia", "email": "bia@example.com"},
        "payment_method": {"type": "card", "card_token": producer.card()},
    }
    first = producer.post("/v1/subscriptions", body, expect=201, Idempotency_Key="k-1")
    again = producer.post("/v1/subscriptions", body, expect=201, Idempotency_Key="k-1")
    assert again == first
    other_body = {**body, "subscriber": {"name": "Carla", "email": "carla@example.com"}}
    problem = producer.post("/v1/subscriptions", other_body, expect=422, Idempotency_Key="k-1")
    assert "Idempotency-Key" in problem["errors"]
    recur.caught_up()
    assert len(producer.get("/v1/subscriptions")["items"]) == 1
    charged = recur.services.db.fetchone("SELECT count(*) FROM gateway_charges WHERE idempotency_key LIKE %s", (first["id"] + "%",))
    assert charged == (1,)


def test_the_audit_trail_lists_every_event_in_order_with_its_actor(producer: Api) -> None:
    plan = producer.new_plan()
    sub = producer.subscribe(plan["id"])
    events = producer.get(f"/v1/subscriptions/{sub['id']}/events")["items"]
    names = [e["type"].rsplit(".", 1)[-1] for e in events]
    assert names[0] == "SubscriptionStarted"
    assert "ChargeSucceeded" in names
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["actor"]["kind"] == "producer"
    assert "subscriber_token_hash" not in events[0]["data"]
    assert "token" not in events[0]["data"]["payment_method"]


def test_the_product_list_comes_from_the_read_model(producer: Api, recur: Any) -> None:
    names = ["A", "B", "C"]
    for name in names:
        producer.post("/v1/products", {"name": name}, expect=201)
    recur.caught_up()
    page = producer.get("/v1/products?limit=2")
    assert [p["name"] for p in page["items"]] == ["A", "B"]
    rest = producer.get(f"/v1/products?limit=2&cursor={page['next_cursor']}")
    assert [p["name"] for p in rest["items"]] == ["C"] and rest["next_cursor"] is None
    producer.get("/v1/products?cursor=garbage", expect=422)


def test_ids_in_query_strings_are_checked_before_they_reach_the_database(api: Api) -> None:
    admin = api.as_(ADMIN)
    assert "producer_id" in admin.get("/v1/products?producer_id=null", expect=422)["errors"]
    assert "plan_id" in admin.get("/v1/subscriptions?plan_id=nope", expect=422)["errors"]
    assert "product_id" in admin.get("/v1/reports/sales?producer_id=00000000-0000-0000-0000-000000000000&product_id=x",
                                     expect=422)["errors"]
