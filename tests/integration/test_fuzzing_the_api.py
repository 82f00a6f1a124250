"""The whole OpenAPI document fuzzed in-process with schemathesis (about a thousand generated requests,
as a producer): no request, however odd, is a 5xx, and every answer has a status and content type the
document declares."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from recur_api import Api, flask_call
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

ADMIN = "adm_integration"
CASES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def producer_key(recur: Any) -> str:
    return Api(flask_call(recur.client)).new_producer(ADMIN).token


def test_no_generated_request_is_a_server_error_or_off_the_document(recur: Any, producer_key: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", recur.client.application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # the whole document, not a slice of it
    headers = {"Authorization": f"Bearer {producer_key}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=CASES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def answers_within_the_document(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance, content_type_conformance])

        answers_within_the_document()
