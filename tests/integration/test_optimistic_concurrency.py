"""Clients do optimistic concurrency without reading bodies: an ETag (the aggregate's version) on every subscription,
product, plan and offer they read, If-Match honoured by every change to one (412 when stale), and a Location on
every 201."""

from __future__ import annotations

from typing import Any

import pytest

ADMIN = "adm_integration"
JSON = "application/json"


class Client:
    """The Flask test client with a bearer token, answering whole responses (headers included)."""

    def __init__(self, flask_client: Any, token: str) -> None:
        self.flask_client, self.token = flask_client, token

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {self.token}", **{k.replace("_", "-"): v for k, v in headers.items()}}
        return self.flask_client.open(path, method=method, json=body, headers=sent)


@pytest.fixture
def admin(recur: Any) -> Client:
    return Client(recur.client, ADMIN)


@pytest.fixture
def seller(recur: Any, admin: Client) -> Client:
    registered = admin("POST", "/v1/producers", {"name": "Ana Courses", "email": "ana@example.com"})
    return Client(recur.client, registered.get_json()["api_key"])


def card(admin: Client, number: str = "4242424242424242") -> str:
    token: str = admin("POST", "/v1/sandbox/card-tokens", {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
                       ).get_json()["token"]
    return token


def catalog(seller: Client) -> dict[str, Any]:
    product = seller("POST", "/v1/products", {"name": "Guitar course"}).get_json()
    plan = seller("POST", f"/v1/products/{product['id']}/plans",
                  {"name": "Monthly", "periodicity": "monthly", "price": {"amount": 4990, "currency": "BRL"}}).get_json()
    offer = seller("POST", f"/v1/plans/{plan['id']}/offers", {"name": "Launch", "price": {"amount": 2990, "currency": "BRL"}}).get_json()
    return {"product": product, "plan": plan, "offer": offer}


def subscribe(seller: Client, admin: Client, plan_id: str) -> dict[str, Any]:
    started: dict[str, Any] = seller("POST", "/v1/subscriptions", {
        "plan_id": plan_id, "subscriber": {"name": "Bia Souza", "email": "bia@example.com"},
        "payment_method": {"type": "card", "card_token": card(admin)}}).get_json()
    return started


def test_each_resource_read_carries_its_version_as_a_strong_etag(seller: Client, admin: Client) -> None:
    made = catalog(seller)
    sub = subscribe(seller, admin, made["plan"]["id"])
    for path in (f"/v1/products/{made['product']['id']}", f"/v1/plans/{made['plan']['id']}", f"/v1/offers/{made['offer']['id']}",
                 f"/v1/subscriptions/{sub['id']}"):
        read = seller("GET", path)
        assert read.status_code == 200, path
        assert read.headers["ETag"] == f'"{read.get_json()["version"]}"', path  # strong: If-Match compares strongly
    assert seller("GET", f"/v1/subscriptions/{sub['id']}").headers["ETag"] == f'"{sub["version"]}"'


def test_a_plan_revised_with_the_etag_it_was_read_at_changes_and_with_a_stale_one_is_refused(seller: Client) -> None:
    plan_path = f"/v1/plans/{catalog(seller)['plan']['id']}"
    first = seller("GET", plan_path).headers["ETag"]
    revised = seller("PATCH", plan_path, {"name": "Monthly plus"}, If_Match=first)
    assert revised.status_code == 200
    assert revised.headers["ETag"] != first

    stale = seller("PATCH", plan_path, {"name": "Someone else's idea"}, If_Match=first)

    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert stale.get_json()["type"].endswith("/precondition-failed")
    assert stale.headers["ETag"] == revised.headers["ETag"]  # what to read again at
    assert seller("GET", plan_path).get_json()["name"] == "Monthly plus"


def test_if_match_follows_rfc_9110_star_any_of_several_and_never_a_weak_tag(seller: Client) -> None:
    offer_path = f"/v1/offers/{catalog(seller)['offer']['id']}"
    current = seller("GET", offer_path).headers["ETag"]
    assert seller("PATCH", offer_path, {"name": "Weak"}, If_Match=f"W/{current}").status_code == 412
    assert seller("PATCH", offer_path, {"name": "Nonsense"}, If_Match="not-a-tag").status_code == 412
    assert seller("PATCH", offer_path, {"name": "One of two"}, If_Match=f'"999", {current}').status_code == 200
    assert seller("PATCH", offer_path, {"name": "Star"}, If_Match="*").status_code == 200
    assert seller("PATCH", offer_path, {"name": "No header, no check"}).status_code == 200
    assert seller("GET", offer_path).get_json()["name"] == "No header, no check"


def test_every_command_on_a_subscription_honours_if_match(seller: Client, admin: Client) -> None:
    plan_id = catalog(seller)["plan"]["id"]
    sub = subscribe(seller, admin, plan_id)
    path = f"/v1/subscriptions/{sub['id']}"
    stale = f'"{sub["version"] - 1}"'
    commands = [("PUT", "/billing-day", {"day": 10}), ("PUT", "/payment-method", {"type": "boleto"}),
                ("POST", "/change-plan", {"plan_id": plan_id}), ("POST", "/reprocess", None), ("POST", "/cancel", {"reason": "x"})]
    for method, suffix, body in commands:
        refused = seller(method, path + suffix, body, If_Match=stale)
        assert refused.status_code == 412, suffix
        assert refused.headers["ETag"] == f'"{sub["version"]}"', suffix
    unchanged = seller("GET", path)
    assert unchanged.get_json()["version"] == sub["version"]
    assert unchanged.get_json()["status"] == "active"

    moved = seller("PUT", path + "/billing-day", {"day": 10}, If_Match=unchanged.headers["ETag"])
    assert moved.status_code == 200
    assert moved.headers["ETag"] == f'"{moved.get_json()["version"]}"'
    cancelled = seller("POST", path + "/cancel", {"reason": "moving"}, If_Match=moved.headers["ETag"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"


def test_every_201_says_where_the_created_resource_is(seller: Client, admin: Client, recur: Any) -> None:
    registered = admin("POST", "/v1/producers", {"name": "Caio", "email": "caio@example.com"})
    product = seller("POST", "/v1/products", {"name": "Piano"})
    plan = seller("POST", f"/v1/products/{product.get_json()['id']}/plans",
                  {"name": "Annual", "periodicity": "annual", "price": {"amount": 49900, "currency": "BRL"}})
    offer = seller("POST", f"/v1/plans/{plan.get_json()['id']}/offers", {"name": "Early", "price": {"amount": 39900, "currency": "BRL"}})
    token = admin("POST", "/v1/sandbox/card-tokens", {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"})
    outcomes = admin("POST", f"/v1/sandbox/card-tokens/{token.get_json()['token']}/outcomes", {"outcomes": ["approved"]})
    sub = seller("POST", "/v1/subscriptions", {"plan_id": plan.get_json()["id"], "subscriber": {"name": "B", "email": "b@example.com"},
                                               "payment_method": {"type": "card", "card_token": token.get_json()["token"]}})
    for created, key in [(registered, "id"), (product, "id"), (plan, "id"), (offer, "id"), (sub, "id"), (token, "token"),
                         (outcomes, "token")]:
        assert created.status_code == 201
        location = created.headers["Location"]
        found = admin("GET", location)
        assert found.status_code == 200, location
        assert found.get_json()[key] == created.get_json()[key], location


def test_a_replayed_201_names_the_same_location(seller: Client) -> None:
    first = seller("POST", "/v1/products", {"name": "Drums"}, Idempotency_Key="drums-1")
    replay = seller("POST", "/v1/products", {"name": "Drums"}, Idempotency_Key="drums-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"] == f"/v1/products/{first.get_json()['id']}"
    assert replay.headers["ETag"] == first.headers["ETag"]


def test_the_document_declares_etags_if_match_412_and_locations(recur: Any) -> None:
    spec = recur.client.get("/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if "201" in operation["responses"]:
                assert "Location" in operation["responses"]["201"].get("headers", {}), (method, path)
            changes_one = method in ("put", "patch") or path.endswith(("/cancel", "/change-plan", "/reprocess"))
            if changes_one and path.startswith(("/v1/plans/", "/v1/offers/", "/v1/subscriptions/")):
                assert {"$ref": "#/components/parameters/IfMatch"} in operation["parameters"], (method, path)
                assert "412" in operation["responses"], (method, path)
    for path in ("/v1/products/{product_id}", "/v1/plans/{plan_id}", "/v1/offers/{offer_id}", "/v1/subscriptions/{subscription_id}"):
        assert "ETag" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path
