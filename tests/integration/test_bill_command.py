"""`recur bill`: bills what is due, or in the sandbox moves the clock and bills on the way."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

from recur_api import Api, flask_call

ADMIN = "adm_integration"


def run_bill(recur: Any, *args: str, sandbox: bool = True) -> subprocess.CompletedProcess[str]:
    """`recur bill` as an operator runs it, with the running recur's database and master key."""
    env = {**os.environ, "RECUR_DATABASE_URL": recur.services.settings.database_url, "RECUR_SANDBOX": "1" if sandbox else "0",
           "RECUR_MASTER_KEY": recur.services.settings.master_key}
    return subprocess.run([sys.executable, "-m", "recur.cli", "bill", *args], env=env, capture_output=True, text=True, timeout=120)


def test_bill_until_moves_the_sandbox_clock_and_charges_the_renewals_on_the_way(recur: Any) -> None:
    api = Api(flask_call(recur.client))
    admin, producer = api.as_(ADMIN), api.new_producer(ADMIN)
    sub = producer.subscribe(producer.new_plan()["id"])
    now = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])
    until = (now + timedelta(days=65)).strftime("%Y-%m-%dT%H:%M:%S")
    result = run_bill(recur, "--until", until)
    assert result.returncode == 0, result.stderr
    assert "billing steps" in result.stdout
    after = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert after["paid_recurrences"] == 3  # the start and two monthly renewals within 65 days
    assert datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"]) >= now + timedelta(days=64)


def test_bill_until_outside_the_sandbox_is_refused_with_what_to_do(recur: Any) -> None:
    result = run_bill(recur, "--until", "2030-01-01", sandbox=False)
    assert result.returncode != 0
    assert "RECUR_SANDBOX=1" in result.stderr


def test_bill_without_until_reports_what_it_did(recur: Any) -> None:
    result = run_bill(recur)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("examined ")


def test_bill_until_beyond_the_sandbox_clocks_horizon_is_refused_and_the_clock_stays(recur: Any) -> None:
    admin = Api(flask_call(recur.client)).as_(ADMIN)
    before = admin.get("/v1/sandbox/clock")["now"]
    result = run_bill(recur, "--until", "9999-12-31")
    assert result.returncode == 2  # click's usage error
    assert "--until must not be after" in result.stderr
    assert admin.get("/v1/sandbox/clock")["now"] == before
