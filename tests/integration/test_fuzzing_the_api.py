"""The whole OpenAPI document fuzzed in-process with schemathesis (about 750 generated requests for each
kind of caller): no request, however odd, is a 5xx, and every answer has a status, content type and body
shape the document declares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from recur_api import Api, flask_call
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

ADMIN = "adm_integration"
CASES_PER_OPERATION = 25
# Shared state of the whole test session: fuzzing them would move every other test's clock or bill its subscriptions.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SESSION_WIDE = {"POST /v1/sandbox/clock/advance", "POST /v1/billing/run"}


@pytest.fixture(params=["producer", "admin"])
def caller_token(request: Any, recur: Any) -> Iterator[str]:
    if request.param == "admin":
        yield ADMIN  # its generated producer_ids name no producer: it schedules no report
        return
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    yield str(producer.token)
    delete_what_runs_on_the_clock(producer, recur)


def delete_what_runs_on_the_clock(producer: Api, recur: Any) -> None:
    """Report schedules and webhook endpoints make due work on the session's shared clock: left behind, every later clock
    advance would step through the periods of the schedules the fuzzer created, and through the retries of deliveries to
    the URLs it made up."""
    recur.caught_up()
    for path in ("/v1/report-schedules", "/v1/webhook-endpoints"):
        while items := producer.get(f"{path}?limit=500")["items"]:
            for item in items:
                producer.request("DELETE", f"{path}/{item['id']}", expect=204)
            recur.caught_up()


def test_no_generated_request_is_a_server_error_or_off_the_document(recur: Any, caller_token: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", recur.client.application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # the whole document, not a slice of it
    headers = {"Authorization": f"Bearer {caller_token}"}
    failures: dict[str, str] = {}
    sent: list[str] = []
    for operation in operations:
        if operation.label in SESSION_WIDE:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=CASES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def answers_within_the_document(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)
            sent.append(case.operation.label)

        try:
            answers_within_the_document()
        except (Exception, BaseExceptionGroup) as failure:  # every operation is fuzzed; all failures are reported together
            failures[operation.label] = str(failure)[:2000]
    print(f"fuzzed {len(operations)} operations with {len(sent)} requests")
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert len(sent) > 10 * len(operations)  # hypothesis really generated cases, not a handful
