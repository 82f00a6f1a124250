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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2
import pytest
from dateutil.relativedelta import relativedelta
from recur_api import Api, http_call, next_month_start
from recur_process import ADMIN, ROOT, RecurProcess

SUBSCRIPTIONS = 20
BILLING_RUNS = 8
BILL_PROCESSES = 2

# `recur bill`, imported ahead and held at a gate (a line on stdin), so that the processes race
# the HTTP billing runs instead of arriving after them because of their start-up time.
GATED_BILL = (
    "import sys; import recur.cli, recur.scheduler, recur.bootstrap; "
    "print('ready', flush=True); sys.stdin.readline(); recur.cli.main(['bill'], prog_name='recur')"
)


def approved_per_installment(database_url: str, sub_ids: list[str]) -> dict[str, tuple[Counter[str], int]]:
    """Per subscription: approved gateway rows per `c<cycle>:i<installment>`, and all its rows."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT idempotency_key, outcome FROM gateway_charges WHERE split_part(idempotency_key, ':', 1) = ANY(%s)",
                (sub_ids,),
            )
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


@dataclass
class Race:
    sub_ids: list[str]
    renewal: datetime
    runs: list[tuple[int, Any]]  # (HTTP status, body) of each POST /v1/billing/run
    bills: list[tuple[int, str]]  # (exit code, output) of each `recur bill`


def race(recur_up: RecurProcess, producer: Api, subscriptions: int, billing_runs: int, bill_processes: int) -> Race:
    """Start monthly subscriptions, move the clock to their renewal without billing, then let
    `billing_runs` parallel `POST /v1/billing/run`, `bill_processes` `recur bill` processes and
    the scheduler loop of `recur up` all go for the same due renewals at once."""
    assert recur_up.runtime is not None
    plan = producer.new_plan()
    subs = [producer.subscribe(plan["id"]) for _ in range(subscriptions)]
    assert all(s["status"] == "active" and s["paid_recurrences"] == 1 for s in subs)
    renewal = max(datetime.fromisoformat(s["next_charge_at"]) for s in subs)
    sub_ids = [s["id"] for s in subs]

    # `recur bill` replays subscriptions, whose personal data opens only with the master key `recur up` made.
    env = {**os.environ, "RECUR_DATABASE_URL": recur_up.runtime["database_url"], "RECUR_SANDBOX": "1",
           "RECUR_MASTER_KEY": (recur_up.data_dir / "master.key").read_text().strip()}
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
        for _ in range(bill_processes)
    ]
    try:
        for process in bills:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        gate = threading.Barrier(billing_runs + 1)

        def billing_run(_: int) -> tuple[int, Any]:
            call = http_call(recur_up.url)  # one HTTP session per thread
            gate.wait()
            return call("POST", "/v1/billing/run", None, {"Authorization": f"Bearer {ADMIN}"})

        # Time moves, nothing is billed yet: every renewal is now due for whoever comes first
        # (the scheduler loop of `recur up` included, within its next second).
        producer.as_(ADMIN).post("/v1/sandbox/clock/advance", {"to": renewal.isoformat(), "run_due": False})
        with ThreadPoolExecutor(billing_runs) as pool:
            futures = [pool.submit(billing_run, i) for i in range(billing_runs)]
            gate.wait()
            for process in bills:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            runs = [f.result(timeout=120) for f in futures]
        outputs = [process.communicate(timeout=120)[0] for process in bills]
        return Race(sub_ids, renewal, runs, [(p.returncode, out) for p, out in zip(bills, outputs, strict=True)])
    finally:
        for process in bills:
            if process.poll() is None:
                process.kill()
                process.wait()


def settled(producer: Api, sub_ids: list[str], paid_recurrences: int) -> list[dict[str, Any]]:
    """The subscriptions once the scheduler loop has finished what it picked up (or 30 s), and after one
    more billing pass of our own, which must find nothing more to charge."""
    deadline = time.monotonic() + 30
    while True:
        views = [producer.get(f"/v1/subscriptions/{sub_id}") for sub_id in sub_ids]
        if all(v["paid_recurrences"] >= paid_recurrences for v in views) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    producer.as_(ADMIN).post("/v1/billing/run")  # the callers then check that it charged nothing more
    return [producer.get(f"/v1/subscriptions/{sub_id}") for sub_id in sub_ids]


@pytest.fixture
def producer(recur_up: RecurProcess) -> Iterator[Api]:
    api = Api(http_call(recur_up.url))
    producer = api.new_producer(ADMIN)
    yield producer
    # Cancel what the test started so that it adds no billing work to later clock advances.
    for sub in producer.get("/v1/subscriptions?limit=100")["items"]:
        producer.request("POST", f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "test over"})


def test_repeated_billing_runs_and_concurrent_schedulers_charge_each_installment_once(recur_up: RecurProcess, producer: Api) -> None:
    assert recur_up.runtime is not None
    result = race(recur_up, producer, SUBSCRIPTIONS, BILLING_RUNS, BILL_PROCESSES)
    # Whether every run answered cleanly is another test's business (see below): here only money counts.
    assert [code for code, _ in result.bills] == [0] * BILL_PROCESSES, result.bills

    views = settled(producer, result.sub_ids, 2)
    assert [v["paid_recurrences"] for v in views] == [2] * SUBSCRIPTIONS
    assert all(v["status"] == "active" and v["total_paid"] == {"amount": 2 * 4990, "currency": "BRL"} for v in views)
    assert {datetime.fromisoformat(v["next_charge_at"]) for v in views} == {result.renewal + relativedelta(months=1)}
    ledger = approved_per_installment(recur_up.runtime["database_url"], result.sub_ids)
    for sub_id in result.sub_ids:
        approved, rows = ledger[sub_id]
        assert approved == Counter({"c1:i1": 1, "c2:i1": 1}), (sub_id, approved)
        assert rows == 2, f"{sub_id}: {rows} gateway calls for 2 charges"
        succeeded = [e for e in producer.get(f"/v1/subscriptions/{sub_id}/events")["items"] if e["type"].endswith(".ChargeSucceeded")]
        assert [(e["data"]["cycle"], e["data"]["installment"]) for e in succeeded] == [(1, 1), (2, 1)]


def test_parallel_billing_runs_all_answer_200_and_bill_without_errors(recur_up: RecurProcess, producer: Api) -> None:
    result = race(recur_up, producer, 10, BILLING_RUNS, 0)
    statuses = [status for status, _ in result.runs]
    assert statuses == [200] * BILLING_RUNS, result.runs
    assert [body["errors"] for _, body in result.runs] == [0] * BILLING_RUNS, result.runs
    assert sum(body["billed"] for _, body in result.runs) >= 1, "the runs raced the scheduler loop and billed"


def test_a_subscription_busy_in_another_scheduler_does_not_make_the_clock_skip_other_due_work(
    recur_up: RecurProcess, producer: Api
) -> None:
    assert recur_up.runtime is not None
    admin = producer.as_(ADMIN)
    # Start on a month's first day: a day later, month-end clamping cannot give both subscriptions one renewal date.
    now = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])
    admin.post("/v1/sandbox/clock/advance", {"to": next_month_start(now).isoformat()})
    plan = producer.new_plan()
    busy = producer.subscribe(plan["id"])
    t0 = datetime.fromisoformat(busy["started_at"])
    producer.as_(ADMIN).post("/v1/sandbox/clock/advance", {"to": (t0 + relativedelta(days=1)).isoformat()})
    later = producer.subscribe(plan["id"])
    busy_renewal = t0 + relativedelta(months=1)
    later_renewal = datetime.fromisoformat(later["started_at"]) + relativedelta(months=1)
    assert busy_renewal < later_renewal

    # Another scheduler (a `recur bill`, say, waiting on a slow gateway) is busy with `busy` when
    # its renewal falls due; it lets go a little later.
    conn = psycopg2.connect(recur_up.runtime["database_url"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("INSERT INTO billing_claims (subscription_id, owner, lease_until) VALUES (%s, 'another scheduler', "
                    "now() + interval '1 hour')", (busy["id"],))

    def let_go() -> None:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM billing_claims WHERE owner = 'another scheduler'")
        conn.close()

    release = threading.Timer(2.0, let_go)
    release.start()
    try:
        producer.as_(ADMIN).post("/v1/sandbox/clock/advance", {"to": (later_renewal + relativedelta(days=2)).isoformat()})
        succeeded = [
            datetime.fromisoformat(e["occurred_at"])
            for e in producer.get(f"/v1/subscriptions/{later['id']}/events")["items"]
            if e["type"].endswith(".ChargeSucceeded")
        ]
        assert succeeded == [datetime.fromisoformat(later["started_at"]), later_renewal], "the later renewal, charged on its day"
    finally:
        release.join()
