"""Subscriptions started per second through `start_subscription` (card approved at once).

recur: the command handler as the API calls it: load the plan, look the card token up, save
SubscriptionStarted + ChargeAttempted (event store: table lock, insert, commit), charge the
sandbox gateway (its own transaction), load the subscription again and save ChargeSucceeded.
Production settings (system clock); the sandbox clock would add a query per `now()`.

baseline: the same number of raw psycopg2 INSERTs of a comparable row (the JSON of a real
SubscriptionStarted event, ~1 KB) into a plain table, each in its own transaction: the same
durability (one WAL flush per commit) with no framework.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg2

from bench.harness import Row, Stack, best_of_rounds, main, measure, print_header, print_row, result, scale
from bench.workload import actor, card_tokens, make_catalog, start_fields

THREADS = 4
BASELINE = "raw psycopg2 INSERT of the same ~1 KB JSON row into a plain table, one transaction each, same thread count"


def sample_payload(url: str) -> str:
    """The stored JSON of one SubscriptionStarted event: the baseline writes rows like it."""
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT convert_from(state, 'UTF8') FROM recur_events WHERE topic LIKE %s LIMIT 1", ("%SubscriptionStarted",))
            row = cur.fetchone()
            assert row is not None, "no SubscriptionStarted event yet"
            return str(row[0])
    finally:
        conn.close()


def raw_insert(url: str, payload: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """fn(i) inserting one row per transaction on a connection of its own thread; and a closer."""
    local = threading.local()
    conns: list[Any] = []
    lock = threading.Lock()

    def insert(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg2.connect(url)
            with lock:
                conns.append(conn)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO bench_raw_rows (id, payload) VALUES (%s, %s)", (str(uuid.uuid4()), payload))
        conn.commit()

    def close() -> None:
        for conn in conns:
            conn.close()

    return insert, close


def run(stack: Stack) -> dict[str, Any]:
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription

    single, threaded, warmup = scale(400, 20), scale(800, 40), 20
    url = stack.new_database("commands")
    services = build_services(stack.settings(url), url, pool_size=THREADS)
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, warmup + single + threaded)
        who = actor(catalog.producer_id)

        def starter(offset: int) -> Callable[[int], None]:
            def start(i: int) -> None:
                sub, _ = start_subscription(
                    services, catalog.producer_id, start_fields(catalog.plan_id, tokens[offset + i], offset + i), who
                )
                assert sub.status == "active", sub.status

            return start

        measure(starter(0), warmup)
        payload = sample_payload(url)
        services.db.execute(
            "CREATE TABLE bench_raw_rows (id uuid PRIMARY KEY, payload jsonb NOT NULL, created_at timestamptz DEFAULT now())"
        )
        insert, close = raw_insert(url, payload)
        try:
            measure(insert, warmup)
            print_header("commands: subscriptions started per second (start_subscription, card approved)", BASELINE)
            rows = []
            for label, n, threads, offset in (
                ("start_subscription, 1 thread", single, 1, warmup),
                (f"start_subscription, {THREADS} threads", threaded, THREADS, warmup + single),
            ):
                rates = best_of_rounds({"baseline": (insert, n), "recur": (starter(offset), n)}, threads)
                rows.append(Row(label, rates["recur"], rates["baseline"]))
                print_row(rows[-1])
        finally:
            close()
        notes = [
            f"{single} subscriptions on 1 thread, {threaded} on {THREADS} threads (after {warmup} warm-up ones), each in 3 rounds "
            "alternating with the baseline; the best round of each counts. "
            f"baseline row: {len(payload)} bytes of JSON.",
        ]
    finally:
        services.close()
    return result("commands", "Commands: subscriptions started per second", "subscriptions/s", BASELINE, rows, notes)


if __name__ == "__main__":
    main(run)
