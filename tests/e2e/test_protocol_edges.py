"""What gunicorn answers before the app sees a request, and what it logs: problems and no secrets."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import requests
from recur_api import Api, http_call
from recur_process import ADMIN, RecurProcess, free_port


def _log_of(recur_up: RecurProcess) -> str:
    return recur_up.log_path.read_text(errors="replace")


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


def test_ctrl_c_stops_the_workers_before_the_broker_and_database_so_nothing_logs_an_error(data_root: Path) -> None:
    data_dir = data_root / f"e2e-ctrl-c-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    recur = RecurProcess(data_dir, free_port())
    recur.start(own_terminal_group=True)
    producer = Api(http_call(recur.url)).new_producer(ADMIN)
    producer.subscribe(producer.new_plan()["id"])
    assert recur.process is not None
    os.killpg(recur.process.pid, signal.SIGINT)  # what the terminal sends the whole group on Ctrl-C
    assert recur.process.wait(timeout=60) == 0
    log = recur.log_path.read_text(errors="replace")
    stopping = log[log.index("stopping (signal 2)"):]
    assert "stopped the embedded broker" in stopping
    assert stopping.index("stopped the local SMTP sink") < stopping.index("stopped the embedded broker")
    assert [line for line in stopping.splitlines() if " ERROR " in line or "Traceback" in line] == []
