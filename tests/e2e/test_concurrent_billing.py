"""Many schedulers at once charge nothing twice.

Due work is billed by whoever gets there: `POST /v1/billing/run` in every API worker, the
scheduler loop inside `recur up`, and `recur bill` run by an operator. All of them at the same
time must still make at most one approved gateway charge per installment of a cycle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import psycopg2
from conftest import ADMIN, ROOT, RecurProcess
from dateutil.relativedelta import relativedelta
from recur_api import Api, http_call

SUBSCRIPTIONS = 20
BILLING_RUNS = 8
BILL_PROCESSES = 2

# `recur bill`, imported ahead and held at a gate (a line on stdin), so that the processes race
# the HTTP billing runs instead of arriving after them because of their start-up time.
GATED_BILL = (
    "import sys; import recur.cli, recur.commands.scheduler, recur.commands.services; "
    "print('ready', flush=True); sys.stdin.readline(); recur.cli.main(['bill'], prog_name='recur')"
)


def approved_per_installment(database_url: str, sub_ids: list[str]) -> dict[str, tuple[Counter[str], int]]:
    """Per subscription: approved gateway rows per `c<cycle>:i<installment>`, and all its rows."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT idempotency_key, outcome FROM gateway_charges WHERE split_part(idempotency_key, ':', 1) = ANY(%s)", (sub_ids,))
            rows = cur.fetchall()
    finally:
        conn.close()
    result: dict[str, tuple[Counter[str], int]] = {sub_id: (Counter(), 0) for sub_id in sub_ids}
    for key, outcome in rows:
        sub_id, cycle, installment, _ = key.split(":")
        approved, total = result[sub_id]
        if outcome == "approved":
            approved[f"{cycle}:{installment}"] += 1
        result[sub_id] = (approved, total + 1)
    return result


def test_repeated_billing_runs_and_concurrent_schedulers_charge_each_installment_once(recur_up: RecurProcess) -> None:
    assert recur_up.runtime is not None
    api = Api(http_call(recur_up.url))
    admin = api.as_(ADMIN)
    producer = api.new_producer(ADMIN)
    plan = producer.new_plan()
    subs = [producer.subscribe(plan["id"]) for _ in range(SUBSCRIPTIONS)]
    sub_ids = [s["id"] for s in subs]
    assert all(s["status"] == "active" and s["paid_recurrences"] == 1 for s in subs)
    renewal = max(datetime.fromisoformat(s["next_charge_at"]) for s in subs)

    env = {**os.environ, "RECUR_DATABASE_URL": recur_up.runtime["database_url"], "RECUR_SANDBOX": "1"}
    env.pop("RECUR_KAFKA_BOOTSTRAP_SERVERS", None)
    bills = [
        subprocess.Popen(
            [sys.executable, "-c", GATED_BILL],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(BILL_PROCESSES)
    ]
    try:
        for process in bills:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        gate = threading.Barrier(BILLING_RUNS + 1)

        def billing_run(_: int) -> Any:
            runner = Api(http_call(recur_up.url), ADMIN)  # one HTTP session per thread
            gate.wait()
            return runner.post("/v1/billing/run")

        # Time moves, nothing is billed yet: every renewal is now due for whoever comes first
        # (the scheduler loop of `recur up` included, within its next second).
        producer.post("/v1/sandbox/clock/advance", {"to": renewal.isoformat(), "run_due": False})
        with ThreadPoolExecutor(BILLING_RUNS) as pool:
            futures = [pool.submit(billing_run, i) for i in range(BILLING_RUNS)]
            gate.wait()
            for process in bills:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            reports = [f.result(timeout=120) for f in futures]
        outputs = [process.communicate(timeout=120)[0] for process in bills]
        assert [process.returncode for process in bills] == [0] * BILL_PROCESSES, outputs
        assert all("errors 0" in out for out in outputs), outputs
        print("DEBUG", reports, outputs)
        assert all(r["errors"] == 0 for r in reports), reports

        # The scheduler loop of `recur up` may still be finishing what it picked up.
        deadline = time.monotonic() + 30
        while True:
            views = [producer.get(f"/v1/subscriptions/{sub_id}") for sub_id in sub_ids]
            if all(v["paid_recurrences"] >= 2 for v in views) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(1.5)  # one more pass of the scheduler loop: still nothing more to charge
        views = [producer.get(f"/v1/subscriptions/{sub_id}") for sub_id in sub_ids]

        assert [v["paid_recurrences"] for v in views] == [2] * SUBSCRIPTIONS
        assert all(v["status"] == "active" and v["total_paid"] == {"amount": 2 * 4990, "currency": "BRL"} for v in views)
        assert {datetime.fromisoformat(v["next_charge_at"]) for v in views} <= {renewal + relativedelta(months=1)}
        ledger = approved_per_installment(recur_up.runtime["database_url"], sub_ids)
        for sub_id in sub_ids:
            approved, rows = ledger[sub_id]
            assert approved == Counter({"c1:i1": 1, "c2:i1": 1}), (sub_id, approved)
            assert rows == 2, f"{sub_id}: {rows} gateway calls for 2 charges"
            succeeded = [e for e in producer.get(f"/v1/subscriptions/{sub_id}/events")["items"] if e["type"].endswith(".ChargeSucceeded")]
            assert [(e["data"]["cycle"], e["data"]["installment"]) for e in succeeded] == [(1, 1), (2, 1)]
    finally:
        for process in bills:
            if process.poll() is None:
                process.kill()
                process.wait()
        for sub_id in sub_ids:
            admin.request("POST", f"/v1/subscriptions/{sub_id}/cancel", {"reason": "test over"})
