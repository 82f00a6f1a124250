"""`recur up` keeps the event log auditable on its own: the scheduler records and publishes a checkpoint of the hash
chain when it stops, and `recur audit verify` proves the history against it after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2
from recur_api import Api, http_call
from recur_process import ADMIN, RecurProcess, free_port


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def recur_audit(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECUR_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "recur.cli", "audit", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_scheduler_checkpoints_the_chain_as_it_stops_and_an_auditor_proves_the_history_against_it(data_root: Path) -> None:
    data_dir = data_root / f"e2e-audit-{os.getpid()}"
    data_dir.mkdir(exist_ok=True)
    recur = RecurProcess(data_dir, free_port())
    recur.start()
    try:
        producer = Api(http_call(recur.url)).new_producer(ADMIN)
        producer.subscribe(producer.new_plan()["id"])
        assert recur.stop(signal.SIGTERM) == 0

        runtime = recur.start()
        url = runtime["database_url"]
        head = rows(url, "SELECT max(notification_id) FROM recur_events")[0][0]
        checkpoints = rows(url, "SELECT notification_id, published_at IS NOT NULL FROM audit_checkpoints ORDER BY 1")

        assert checkpoints == [(head, True)], "the head as the scheduler left it, published; the restart did not move it"
        listed = recur_audit(url, "checkpoints")
        checkpoint = listed.stdout.splitlines()[0]
        assert json.loads(checkpoint)["notification_id"] == head
        verified = recur_audit(url, "verify", "--checkpoint", checkpoint)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"checkpoint {head}/" in verified.stdout and " matches: the same chain hash" in verified.stdout
    finally:
        if recur.process is not None and recur.process.poll() is None:
            recur.stop()
