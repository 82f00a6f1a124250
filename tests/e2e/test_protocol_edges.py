"""What gunicorn answers before the app sees a request, and what it logs: problems and no secrets."""

from __future__ import annotations

import time
import uuid

import requests
from recur_process import RecurProcess


def _log_of(recur_up: RecurProcess) -> str:
    return (recur_up.data_dir.parent / f"{recur_up.data_dir.name}.log").read_text(errors="replace")


def test_a_request_line_too_long_is_a_414_problem_not_an_html_page(recur_up: RecurProcess) -> None:
    response = requests.get(f"{recur_up.url}/v1/subscriptions?cursor={'x' * 9000}", timeout=10)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "JSON body" in response.json()["detail"]


def test_too_many_headers_is_a_431_problem_not_an_html_page(recur_up: RecurProcess) -> None:
    headers = {f"X-Filler-{n}": "y" for n in range(150)}
    response = requests.get(f"{recur_up.url}/v1/subscriptions", headers=headers, timeout=10)
    assert response.status_code == 431
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 431


def test_a_secret_put_in_a_query_string_never_reaches_the_access_log(recur_up: RecurProcess) -> None:
    path = f"/v1/no-such-thing-{uuid.uuid4().hex}"
    response = requests.get(f"{recur_up.url}{path}?access_token=rk_leaked_secret_123", timeout=10)
    assert response.status_code == 404
    deadline = time.monotonic() + 10
    while path not in _log_of(recur_up):  # gunicorn writes the access line just after answering
        assert time.monotonic() < deadline, "the request never reached the access log"
        time.sleep(0.05)
    assert "rk_leaked_secret_123" not in _log_of(recur_up)
