"""The whole OpenAPI document fuzzed in-process with schemathesis (about a thousand generated requests,
as a producer): no request, however odd, is a 5xx, and every answer has a status and content type the
document declares."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from recur_api import Api, flask_call
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

ADMIN = "adm_integration"
CASES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def producer_key(recur: Any) -> str:
    return Api(flask_call(recur.client)).new_producer(ADMIN).token


@pytest.fixture(scope="module")
def api_schema(recur: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", recur.client.application)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=CASES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_is_a_server_error_or_off_the_document(case: Any, producer_key: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {producer_key}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance],
    )
