"""The operations endpoints: the OpenAPI document, the HTML docs generated from it, and Prometheus metrics."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from recur_api import Api

from recur.domain.money import MAX_MINOR_UNITS
from recur.http.app import create_app
from recur.http.limits import MAX_NAME_LENGTH
from recur.http.openapi import openapi_path, spec_for
from recur.http.schemas import PERIODICITIES

ADMIN = "adm_integration"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(recur: Any) -> dict[str, Any]:
    response = recur.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def served_operations(app: Any) -> set[tuple[str, str]]:
    return {
        (openapi_path(rule)[0], method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def documented_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec["paths"].items() for method in item}


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def scrape(recur: Any) -> str:
    response = recur.client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text: str = response.get_data(as_text=True)
    return text


def test_every_route_the_app_serves_is_in_the_openapi_document_with_its_method(recur: Any, spec: dict[str, Any]) -> None:
    served = served_operations(recur.client.application)
    assert ("/v1/subscriptions/{subscription_id}", "get") in served
    assert served <= documented_operations(spec)
    assert documented_operations(spec) == served  # and nothing that is not served


def test_the_openapi_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_plan_bodies_are_described_by_the_marshmallow_schema_the_blueprint_validates_with(spec: dict[str, Any]) -> None:
    define_plan = spec["paths"]["/v1/products/{product_id}/plans"]["post"]
    body = define_plan["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PlanInput"}
    plan = spec["components"]["schemas"]["PlanInput"]
    assert plan["properties"]["periodicity"]["enum"] == PERIODICITIES
    assert set(plan["required"]) == {"name", "periodicity", "price"}
    assert plan["properties"]["trial_days"]["default"] == 0
    assert plan["properties"]["renewal_reminder_days"]["maximum"] == 60
    assert define_plan["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Plan"}


def test_input_bounds_are_published_from_the_fields_that_enforce_them(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    name = schemas["PlanInput"]["properties"]["name"]
    assert (name["type"], name["minLength"], name["maxLength"]) == ("string", 1, MAX_NAME_LENGTH)
    assert schemas["MoneyInput"]["properties"]["amount"]["maximum"] == MAX_MINOR_UNITS
    assert schemas["MoneyInput"]["properties"]["currency"]["pattern"] == "^[A-Z]{3}$"
    assert schemas["RetryPolicyInput"]["properties"]["reset_billing_date"]["type"] == "boolean"
    assert schemas["SubscriberInput"]["properties"]["email"]["format"] == "email"


def test_the_sandbox_is_described_as_the_admins_except_card_tokens(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert paths["/v1/sandbox/card-tokens"]["post"]["security"] == []
    for path, method in [("/v1/sandbox/clock", "get"), ("/v1/sandbox/clock/advance", "post"),
                         ("/v1/sandbox/card-tokens/{token}/outcomes", "post"), ("/v1/sandbox/boletos/{boleto_id}/pay", "post")]:
        assert paths[path][method]["security"] == [{"admin": []}], path
        assert {"401", "404"} <= set(paths[path][method]["responses"]), path
    unauthorized = spec["components"]["responses"]["Unauthorized"]
    assert set(unauthorized["headers"]) == {"WWW-Authenticate"}
    assert {"400", "413"} <= set(paths["/v1/products"]["post"]["responses"])


def test_the_subscription_representation_lists_what_the_api_returns(producer: Api, spec: dict[str, Any], recur: Any) -> None:
    started = producer.subscribe(producer.new_plan()["id"])
    recur.caught_up()
    schemas = spec["components"]["schemas"]
    assert set(started) == set(schemas["StartedSubscription"]["properties"])
    assert set(schemas["Subscription"]["required"]) == set(started) - {"subscriber_token"}
    assert schemas["Subscription"]["properties"]["status"]["enum"] == ["pending", "trialing", "active", "past_due", "inactive", "cancelled"]
    page = producer.get("/v1/subscriptions?limit=1")
    assert set(page) == set(schemas["SubscriptionPage"]["properties"]) == {"items", "next_cursor"}
    assert set(page["items"][0]) <= set(schemas["SubscriptionSummary"]["properties"])
    assert set(schemas["Problem"]["properties"]) == {"type", "title", "status", "detail", "errors"}


def test_every_post_takes_an_idempotency_key_and_protected_operations_answer_problems(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert {schemes[name]["scheme"] for name in ("admin", "producer", "subscriber")} == {"bearer"}
    idempotency_key = spec["components"]["parameters"]["IdempotencyKey"]
    assert (idempotency_key["name"], idempotency_key["in"], idempotency_key["required"]) == ("Idempotency-Key", "header", False)
    problem = spec["components"]["responses"]["NotFound"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            refs = [p.get("$ref") for p in operation.get("parameters", [])]
            assert (method != "post") or "#/components/parameters/IdempotencyKey" in refs, (method, path)
            if path.startswith("/v1/") and any({"admin", "producer", "subscriber"} & set(s) for s in operation["security"]):
                assert {"401", "404"} <= set(operation["responses"]), (method, path)
                assert method == "get" or {"409", "422"} <= set(operation["responses"]), (method, path)
                takes_input = "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", []))
                assert not takes_input or "422" in operation["responses"], (method, path)
    cancel = spec["paths"]["/v1/subscriptions/{subscription_id}/cancel"]["post"]
    assert {next(iter(s)) for s in cancel["security"]} == {"admin", "producer", "subscriber"}
    assert spec["paths"]["/v1/producers"]["post"]["security"] == [{"admin": []}]


def test_sandbox_paths_are_published_only_when_the_sandbox_is_mounted(recur: Any, spec: dict[str, Any]) -> None:
    assert "/v1/sandbox/clock/advance" in spec["paths"]
    services = dataclasses.replace(recur.services, settings=recur.services.settings.with_(sandbox=False))
    production = spec_for(create_app(services))
    assert not [path for path in production["paths"] if path.startswith("/v1/sandbox")]
    assert "/v1/subscriptions" in production["paths"]


def test_the_document_is_built_once_per_app(recur: Any) -> None:
    app = recur.client.application
    assert spec_for(app) is spec_for(app)
    assert recur.client.get("/openapi.json").data == recur.client.get("/openapi.json").data


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(recur: Any, spec: dict[str, Any]) -> None:
    response = recur.client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
    html = response.get_data(as_text=True)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert f'id="{operation["operationId"]}"' in html
            assert f'{method.upper()}</span> <code>{path}</code>' in html
    assert "<script" not in html.lower()
    assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+", html, re.IGNORECASE)  # no other host, not even protocol-relative
    plan_section = html.split('id="catalog.define_plan"')[1].split("</section>")[0]
    for words in ("periodicity", "one of monthly, bimonthly, quarterly, semiannual, annual", "retry_policy.max_retries",
                  "<code>Idempotency-Key</code></td><td>header", "Credentials: producer or admin", "201", "422"):
        assert words in plan_section


def test_metrics_count_requests_by_route_never_by_raw_path(producer: Api, recur: Any) -> None:
    sub = producer.subscribe(producer.new_plan()["id"])
    producer.get(f"/v1/subscriptions/{sub['id']}")
    producer.get(f"/v1/subscriptions/{sub['id']}")
    producer.get("/v1/subscriptions/00000000-0000-0000-0000-000000000000", expect=404)
    text = scrape(recur)
    route = "/v1/subscriptions/<subscription_id>"
    counted = {(labels["method"], labels["status"]): value for labels, value in samples(text, "recur_http_requests_total")
               if labels["route"] == route}
    assert counted[("GET", "200")] >= 2
    assert counted[("GET", "404")] >= 1
    assert ("POST", "201") in {(labels["method"], labels["status"]) for labels, _ in samples(text, "recur_http_requests_total")
                               if labels["route"] == "/v1/subscriptions"}
    latency = [value for labels, value in samples(text, "recur_http_request_seconds_count") if labels == {"method": "GET", "route": route}]
    assert latency and latency[0] >= 3
    assert sub["id"] not in text


def test_the_status_gauge_counts_a_subscription_as_soon_as_the_read_model_has_it(producer: Api, recur: Any) -> None:
    recur.caught_up()

    def gauges() -> dict[str, float]:
        text = scrape(recur)
        values = {labels["status"]: value for labels, value in samples(text, "recur_subscriptions")}
        values["head"] = samples(text, "recur_event_store_head")[0][1]
        values["up"] = samples(text, "recur_metrics_database_up")[0][1]
        values["behind"] = sum(value for _, value in samples(text, "recur_projection_events_behind"))
        return values

    before = gauges()
    producer.subscribe(producer.new_plan()["id"], producer.card("4000000000000002"))
    recur.caught_up()
    after = gauges()
    assert after["pending"] == before["pending"] + 1
    assert after["active"] == before["active"]
    assert after["head"] > before["head"]
    assert after["up"] == 1
    assert after["behind"] == 0


MULTIPROCESS_WORKER = textwrap.dedent(
    """
    import sys
    from recur.http.metrics import HttpMetrics

    class NoDatabase:
        def fetchall(self, *args):
            raise OSError("no database in this test")

    metrics = HttpMetrics(NoDatabase())
    if sys.argv[1] == "serve":
        metrics.observe("GET", "/v1/plans/<plan_id>", 200, 0.01)
    else:
        from prometheus_client import generate_latest
        sys.stdout.write(generate_latest(metrics.scrape_registry()).decode())
    """
)


def test_with_several_worker_processes_a_scrape_sums_them_all(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(role: str) -> str:
        done = subprocess.run([sys.executable, "-c", MULTIPROCESS_WORKER, role], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60, check=True)
        return done.stdout

    run("serve")
    run("serve")
    text = run("scrape")
    counted = [value for labels, value in samples(text, "recur_http_requests_total") if labels["route"] == "/v1/plans/<plan_id>"]
    assert counted == [2.0]
    assert samples(text, "recur_metrics_database_up")[0][1] == 0
