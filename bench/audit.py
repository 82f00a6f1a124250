"""Audit chain: commands per second with the event log's hash chain, and without it.

recur: commands as the API runs them, on a database with migration 014's triggers on `recur_events` (each
INSERT takes the table's lock, which eventsourcing already holds, then each row looks the head of the log up by
its index and computes one SHA-256). Three commands: `start_subscription` (three events in two saves, a gateway
charge between them) on one thread and on four, and a batch of 50 plan revisions saved at once (one INSERT of 50
rows: how the billing run saves several subscriptions); and, to isolate the chain's own cost, a save of one event
(a new product).

baseline: the same commands on the same database with the two triggers disabled (`ALTER TABLE ... DISABLE
TRIGGER`), in rounds alternating with recur's; the best round of each counts.

The notes give the rate of `recur audit verify` over a history of realistic events against a raw read of the
same rows through the same server-side cursor, without hashing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.harness import Row, Stack, main, measure, print_header, print_row, rate, result, scale, shifted
from bench.workload import actor, card_tokens, history_database, make_catalog, start_fields

THREADS = 4
BATCH = 50
ROUNDS = 5
BASELINE = "the same commands with recur_events' chain triggers disabled, alternating rounds on the same database"
TRIGGERS = ("recur_audit_chain", "recur_audit_serialize")


def chain(services: Any, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    services.db.execute("; ".join(f"ALTER TABLE recur_events {verb} TRIGGER {name}" for name in TRIGGERS))


def alternating(services: Any, fn: Callable[[int], object], n: int, threads: int = 1) -> tuple[float, float]:
    """(rate with the chain, rate without) of fn over n calls: ROUNDS rounds each, alternating; the best of each."""
    best = {True: 0.0, False: 0.0}
    per_round = max(1, n // (2 * ROUNDS))
    offset = 0
    for _ in range(ROUNDS):
        for enabled in (False, True):
            chain(services, enabled)
            best[enabled] = max(best[enabled], measure(shifted(fn, offset), per_round, threads))
            offset += per_round
    chain(services, True)
    return best[True], best[False]


INSIDE = """DO $$ BEGIN FOR i IN 1..{n} LOOP
    INSERT INTO recur_events (originator_id, originator_version, topic, state)
    VALUES (gen_random_uuid(), 1, 'recur.domain.catalog:Product.ProductCreated', convert_to(repeat('x', 700), 'UTF8'));
END LOOP; END $$"""


def server_costs(services: Any, n: int) -> dict[str, float]:
    """µs of PostgreSQL per single-row INSERT with neither trigger, the row trigger alone, and both: a DO loop in one
    transaction, so neither the client nor commits blur the difference (the best of ROUNDS alternating rounds)."""
    modes = {"neither": (), "row": ("recur_audit_chain",), "both": TRIGGERS}
    best = dict.fromkeys(modes, float("inf"))
    for _ in range(ROUNDS):
        for name, enabled in modes.items():
            services.db.execute("; ".join(f"ALTER TABLE recur_events {'ENABLE' if trigger in enabled else 'DISABLE'} TRIGGER {trigger}"
                                          for trigger in TRIGGERS))
            best[name] = min(best[name], 1e6 / rate(n, lambda: services.db.execute(INSIDE.format(n=n))))
    chain(services, True)
    return best


def verify_rates(stack: Stack, events: int) -> tuple[int, float, float]:
    """(events, verify rate, raw read rate) over the shared history of realistic events."""
    from recur.commands.audit_verify import verify_chain
    from recur.db import Database

    url = history_database(stack, events)
    db = Database(url, 1)
    try:
        total = verify_chain(db).events_checked

        def raw_read() -> None:
            with db.transaction() as cur, cur.connection.cursor(name="bench_raw_read") as rows:
                rows.execute("SELECT notification_id, originator_id, originator_version, topic, state, chain_hash FROM recur_events "
                             "ORDER BY notification_id")
                while rows.fetchmany(2000):
                    pass

        def verify() -> None:
            verification = verify_chain(db)
            assert verification.ok, verification.first_break

        raw = max(rate(total, raw_read) for _ in range(2))
        verified = max(rate(total, verify) for _ in range(2))
        return total, verified, raw
    finally:
        db.close()


def run(stack: Stack) -> dict[str, Any]:
    from recur.bootstrap import build_services
    from recur.commands.catalog import create_product, owned
    from recur.commands.subscriptions import start_subscription
    from recur.domain.catalog import Plan

    saves, single, threaded, batches, warmup = scale(3000, 20), scale(1200, 20), scale(1600, 40), scale(200, 10), 20
    url = stack.new_database("audit")
    services = build_services(stack.settings(url), url, pool_size=THREADS)
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, warmup + single + threaded)
        who = actor(catalog.producer_id)

        def starter(offset: int) -> Callable[[int], None]:
            def start(i: int) -> None:
                start_subscription(services, catalog.producer_id, start_fields(catalog.plan_id, tokens[offset + i], offset + i), who)

            return start

        plans = [owned(services, make_catalog(services, f"Batch {k}").plan_id, Plan, None) for k in range(BATCH)]

        def save_product(i: int) -> None:
            create_product(services, catalog.producer_id, f"Course {i}", who)

        def revise_batch(i: int) -> None:
            for plan in plans:
                plan.revise({"name": f"Monthly {i}"}, actor(plan.producer_id))
            services.events.store(*plans)

        measure(starter(0), warmup)
        print_header("audit: commands per second with the hash chain and without", BASELINE)
        rows = []
        for label, fn, n, threads, per_call in (
            ("create_product (a read, one event saved), 1 thread", save_product, saves, 1, 1),
            ("start_subscription, 1 thread", starter(warmup), single, 1, 1),
            (f"start_subscription, {THREADS} threads", starter(warmup + single), threaded, THREADS, 1),
            (f"revise_plan x{BATCH}, saved at once", revise_batch, batches, 1, BATCH),
        ):
            with_chain, without = alternating(services, fn, n, threads)
            rows.append(Row(label, with_chain * per_call, without * per_call))
            print_row(rows[-1])
        inside = server_costs(services, scale(5000, 200))
        print(f"   inside PostgreSQL, µs per single-row INSERT: {inside}", flush=True)
        events, verified, raw = verify_rates(stack, scale(20_000, 1000))
        print(f"   recur audit verify: {verified:,.0f} events/s; raw read of the same rows: {raw:,.0f} rows/s", flush=True)
    finally:
        services.close()
    notes = [
        f"{saves} products, {single} subscriptions on 1 thread, {threaded} on {THREADS} threads, {batches} batches of {BATCH} "
        "plan revisions, each "
        f"split into {ROUNDS} rounds with the chain and {ROUNDS} without, alternating; the best round of each counts.",
        f"Inside PostgreSQL alone (a DO loop of single-row INSERTs in one transaction: no client, no commit), an INSERT "
        f"takes {inside['neither']:.1f} µs without the chain, {inside['row']:.1f} µs with the row trigger (head lookup and "
        f"SHA-256) and {inside['both']:.1f} µs with the statement trigger's lock too: the chain's own cost, per event "
        f"and per save, without the client's share.",
        f"`recur audit verify` over {events:,} events (subscriptions started and charged, bench.workload.history_database): "
        f"{verified:,.0f} events/s, against {raw:,.0f} rows/s for a raw read of the same rows through the same server-side "
        f"cursor without hashing ({verified / raw:.2f} of it); so about {1e6 / verified:,.0f} s per million events.",
    ]
    return result("audit", "Audit chain: commands per second with the hash chain and without", "commands/s", BASELINE, rows, notes)


if __name__ == "__main__":
    main(run)
