"""The catalog's audit trail: who created and changed a product or a plan, and when, read from the event store;
each producer sees only its own."""

from __future__ import annotations

from typing import Any

from recur_api import Api

ADMIN = "adm_integration"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["type"].rpartition(".")[2] for item in items]


def test_a_plans_history_shows_its_definition_and_each_revision_with_who_made_it(producer: Api) -> None:
    plan = producer.new_plan(retry_policy={"max_retries": 3, "window_days": 10})
    me = producer.get(f"/v1/products/{plan['product_id']}")["producer_id"]
    producer.request("PATCH", f"/v1/plans/{plan['id']}", {"price": {"amount": 5990, "currency": "BRL"}}, 200, X_Request_Id="raise-2025")
    producer.as_(ADMIN).patch(f"/v1/plans/{plan['id']}", {"name": "Monthly (new)"})

    items = producer.get(f"/v1/plans/{plan['id']}/events")["items"]

    assert names(items) == ["PlanCreated", "PlanRevised", "PlanRevised"]
    assert [item["version"] for item in items] == [1, 2, 3]
    assert [item["actor"] for item in items] == [{"kind": "producer", "id": me}, {"kind": "producer", "id": me},
                                                 {"kind": "admin", "id": "admin"}]
    assert items[1]["request_id"] == "raise-2025"
    assert items[1]["data"]["changes"]["price"] == {"amount": 5990, "currency": "BRL"}
    assert items[0]["recorded_at"] <= items[1]["recorded_at"] <= items[2]["recorded_at"]


def test_a_products_history_shows_who_created_it(producer: Api) -> None:
    product = producer.post("/v1/products", {"name": "Piano course"}, expect=201)

    items = producer.get(f"/v1/products/{product['id']}/events")["items"]

    assert names(items) == ["ProductCreated"]
    assert items[0]["actor"] == {"kind": "producer", "id": product["producer_id"]}
    assert items[0]["data"] == {"producer_id": product["producer_id"], "name": "Piano course"}


def test_another_producer_never_sees_a_catalog_history_and_the_admin_sees_every_one(api: Api, producer: Api) -> None:
    plan = producer.new_plan()
    other = api.new_producer(ADMIN, "Other")

    other.get(f"/v1/plans/{plan['id']}/events", expect=404)
    other.get(f"/v1/products/{plan['product_id']}/events", expect=404)
    assert names(api.as_(ADMIN).get(f"/v1/plans/{plan['id']}/events")["items"]) == ["PlanCreated"]
    assert names(api.as_(ADMIN).get(f"/v1/products/{plan['product_id']}/events")["items"]) == ["ProductCreated"]


def test_a_catalog_history_is_not_for_subscribers_nor_for_ids_of_other_kinds(producer: Api) -> None:
    plan = producer.new_plan()
    subscription = producer.subscribe(plan["id"])
    subscriber = producer.as_(subscription["subscriber_token"])

    subscriber.get(f"/v1/plans/{plan['id']}/events", expect=404)  # recur answers wrong credentials as it does unknown ids
    producer.get(f"/v1/plans/{plan['product_id']}/events", expect=404)  # a product's id is no plan's
    producer.get(f"/v1/products/{plan['id']}/events", expect=404)
    producer.get(f"/v1/products/{subscription['id']}/events", expect=404)
    producer.get("/v1/plans/not-an-id/events", expect=404)
