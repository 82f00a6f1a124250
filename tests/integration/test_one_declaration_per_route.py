"""Each route states its credentials, input, answer and statuses once; what it serves and what the OpenAPI document
publishes both come from that statement, so adding a field to a response is one line in one place."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from recur_api import Api

from recur.commands.catalog import owned
from recur.domain.subscription import Subscription
from recur.http.app import create_app
from recur.http.context import services
from recur.http.openapi import spec_for
from recur.http.representations.kit import instant, representation
from recur.http.representations.subscriptions import StartedSubscriptionView, SubscriptionSummaryView, SubscriptionView
from recur.http.routes import PRODUCER, Caller, declaration_of, route

ADMIN = "adm_integration"


def published_fields(schema: type[Any]) -> set[str]:
    return {declared.data_key or name for name, declared in schema().fields.items()}


def test_every_route_the_app_serves_is_declared(recur: Any) -> None:
    app = recur.client.application
    undeclared = [rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" and declaration_of(app.view_functions[rule.endpoint]) is None]
    assert undeclared == []


def test_the_subscription_schema_is_what_is_served_and_what_is_published(producer: Api, recur: Any) -> None:
    started = producer.subscribe(producer.new_plan()["id"])
    read = producer.get(f"/v1/subscriptions/{started['id']}")
    recur.caught_up()
    listed = producer.get("/v1/subscriptions?limit=1")["items"][0]
    components = recur.client.get("/openapi.json").get_json()["components"]["schemas"]

    assert set(read) == published_fields(SubscriptionView) == set(components["Subscription"]["properties"])
    assert set(started) == published_fields(StartedSubscriptionView) == set(components["StartedSubscription"]["properties"])
    assert set(listed) == published_fields(SubscriptionSummaryView) == set(components["SubscriptionSummary"]["properties"])
    assert set(components["Subscription"]["required"]) == published_fields(SubscriptionView)


@representation
class AnchoredSubscriptionView(SubscriptionView):
    """What a newcomer writes to answer one more field: this line, nothing else."""

    billing_anchor = instant("the instant the billing calendar counts from", attribute="anchor.date")


def test_a_field_added_to_a_response_schema_is_served_and_published_with_nothing_else_to_edit(producer: Api, recur: Any) -> None:
    blueprint = Blueprint("newcomer", __name__)

    @route(blueprint.get, "/v1/anchored-subscriptions/<subscription_id>", "Subscriptions", "Read a subscription and its anchor",
           roles=PRODUCER, response=AnchoredSubscriptionView, etag=True)
    def anchored(subscription_id: str, caller: Caller) -> Subscription:
        found: Subscription = owned(services(), subscription_id, Subscription, caller.scope)
        return found

    app = create_app(recur.services)
    app.register_blueprint(blueprint)
    client = app.test_client()
    sub = producer.subscribe(producer.new_plan()["id"])

    served = client.get(f"/v1/anchored-subscriptions/{sub['id']}", headers={"Authorization": f"Bearer {producer.token}"})
    published = spec_for(app)

    assert served.status_code == 200
    assert served.get_json()["billing_anchor"] is not None
    assert served.headers["ETag"] == f'"{sub["version"]}"'
    operation = published["paths"]["/v1/anchored-subscriptions/{subscription_id}"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AnchoredSubscription"}
    anchored_schema = published["components"]["schemas"]["AnchoredSubscription"]
    assert anchored_schema["properties"]["billing_anchor"]["format"] == "date-time"
    assert "billing_anchor" in anchored_schema["required"]
    assert set(served.get_json()) == set(anchored_schema["properties"])
