"""Billing run: renewals charged per second (P4), and the overlap of a slow gateway's calls (P4b).

recur: `run_due` as the scheduler runs it, over subscriptions whose monthly renewal is due, by two scheduler processes
at once (BENCH_BILLING_PROCESSES; as two `recur worker scheduler` or `recur bill` would: each its own services, sharing
the run through their claims, started before the clock runs). Each pass claims 500 at a time (billing_claims, in
(due_at, id) order from where its last claim ended), loads the batch with one query (and its data keys with one more),
saves its attempts 100 per event-store transaction, hands the sandbox gateway calls to its lane (a transaction each,
as many at once as its pool has connections) and, while they are answered, claims, loads and decides the next batch;
then saves the answers the same way. One process alone is measured too, on a sample billed just before (notes). The
subscriptions are made by a direct loader (the domain verbs of `start_subscription`, saved 100 at a time, and their rows
in the billing-schedule read model), so that 100,000 of them take a minute or two, not ten.

baseline (P4): the bare eventsourcing save rate of the same events: other subscriptions loaded the same way, held in
memory, and the same renewal decided on each (begin_charge, record_charge_approved: the same ChargeAttempted,
ChargeSucceeded and Rescheduled events), saved with one `events.store` per subscription, as a billing run that saves
each subscription on its own pays at least; no loads, no gateway, no claims; one process. Target: ratio >= 1.0, and
100,000 renewals in under 90 s.

P4b: the same run with the sandbox gateway answering in 200 ms (RECUR_SANDBOX_GATEWAY_LATENCY_MS=200), one process. Its
baseline is the serial run: `bill_one` (load, save the attempt, call, save the answer) one subscription after another on
a sample, its time per subscription times the count. The ratio is serial time / actual time. Target >= 20.

Where the time goes (one process, 10,000 renewals on a quiet machine: 8.6 s; kernel CPU accounting, the phases' thread
CPU, and py-spy at 100 samples/s): the process used 6.6 s of CPU and PostgreSQL 4.6 s, so neither core was full. The
main thread's 4.6 s: `load_many` 2.1 s (decoding the stored events 1.1 s: JSON, datetimes, opening the sealed personal
data; the rest fetching the rows and replaying five events per subscription), the saves 1.4 s (encoding the events 0.5 s,
psycopg's array dumps and pipeline 0.6 s), deciding and applying the answers 1.1 s. The lane's threads used the other
2 s (psycopg2, six statements per sandbox charge); meanwhile the main thread waited about 2 s for the sandbox's answers
(its charges need the GIL the main thread holds), 1.2 s for the server during saves (the hash-chain trigger, one row at
a time) and 0.4 s for the loads. A second process fills those waits: two processes did 1.2-1.5x one. Fixed on the way:
claims that rescanned every subscription the pass had billed (quadratic: 18 s of a 100,000 run), one data-key query
per subscription loaded, the composite-array dump of each save (psycopg 3 in Python, hex-escaped bytes), and the
run's own statements waiting behind the lane's for a connection. What would go further: fewer or smaller events per
renewal, snapshots once histories grow, and a cheaper sandbox charge (one statement instead of six round trips).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg2.extras

from bench.harness import Row, Stack, main, print_header, print_row, quiet_logs, result, scale
from bench.workload import actor, card_tokens, make_catalog, subscriber

LOAD_CHUNK = 100  # as recur.commands.billing_batch.SAVE_CHUNK: larger saves were seen to hang psycopg 3's pipeline
SERIAL_SAMPLE = 40
# Scheduler processes sharing the P4 run through their claims (BENCH_BILLING_PROCESSES; 1 is the run in this process).
PROCESSES = int(os.environ.get("BENCH_BILLING_PROCESSES") or 2)


@dataclasses.dataclass
class StoppedClock:
    """The renewal instant, for every subscription loaded at once."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def load_subscriptions(services: Any, count: int, started: datetime, keep: bool = False) -> tuple[list[str], list[Any]]:
    """`count` monthly card subscriptions started (and charged) at `started`, saved LOAD_CHUNK at a time, with their
    rows in rm_billing_schedule (the read model the consumers would write). Returns their ids and, with `keep`, the
    aggregates as saved."""
    from recur.commands.catalog import owned
    from recur.commands.subscriptions import new_code, terms_of
    from recur.domain.catalog import Plan
    from recur.domain.subscription import Subscription

    catalog = make_catalog(services)
    plan = owned(services, catalog.plan_id, Plan, None)
    terms = terms_of(services, plan, None, 1, None)
    who = actor(catalog.producer_id)
    tokens = card_tokens(services, count)
    ids: list[str] = []
    kept: list[Any] = []
    for start in range(0, count, LOAD_CHUNK):
        chunk = []
        for i in range(start, min(count, start + LOAD_CHUNK)):
            sub = Subscription.start(
                code=new_code(), producer_id=plan.producer_id, product_id=plan.product_id, terms=terms, trial_days=0,
                subscriber=subscriber(i), payment_method={"type": "card", "token": tokens[i], "brand": "visa", "last4": "4242"},
                subscriber_token_hash=secrets.token_hex(32), at=started, actor=who,
            )
            request = sub.begin_charge(started, who)
            assert request is not None
            sub.record_charge_approved(request.key, "ch_" + secrets.token_hex(10), started, who)
            chunk.append(sub)
        services.events.store(*chunk)
        with services.db.transaction() as cur:
            psycopg2.extras.execute_values(cur, "INSERT INTO rm_billing_schedule (subscription_id, due_at) VALUES %s",
                                           [(str(sub.id), sub.next_due_at) for sub in chunk], page_size=1000)
        ids += [str(sub.id) for sub in chunk]
        if keep:
            kept += chunk
    return ids, kept


def renew_one_save_each(services: Any, subs: list[Any], at: datetime) -> float:
    """The baseline: the renewal decided in memory, one save per subscription; returns subscriptions per second."""
    who = actor("admin")
    started = time.perf_counter()
    for sub in subs:
        request = sub.begin_charge(at, who)
        assert request is not None
        sub.record_charge_approved(request.key, "ch_" + secrets.token_hex(10), at, who)
        services.events.store(sub)
    return len(subs) / (time.perf_counter() - started)


def billing_run(services: Any, expected: int) -> tuple[float, Any]:
    from recur.scheduler import run_due

    started = time.perf_counter()
    report = run_due(services, services.clock.now())
    elapsed = time.perf_counter() - started
    assert (report.charges, report.errors) == (expected, 0), report
    return expected / elapsed, report


def scheduler_process(settings: Any, url: str, moment: datetime, ready: Any, reports: Any) -> None:
    """One scheduler process, as `recur worker scheduler` or `recur bill` runs: its own services; its pass starts when
    every process is ready (so that starting Python is not timed), and reports (examined, charges, errors)."""
    from recur.bootstrap import build_services
    from recur.scheduler import run_due

    quiet_logs()
    services = dataclasses.replace(build_services(settings, url, pool_size=4), clock=StoppedClock(moment))
    try:
        ready.wait()
        report = run_due(services, moment)
        reports.put((report.examined, report.charges, report.errors))
    finally:
        services.close()


def billing_run_in_processes(settings: Any, url: str, moment: datetime, expected: int, processes: int) -> tuple[float, int]:
    """`processes` schedulers billing the same due work at once, shared through their claims; returns charges per
    second from the moment all are ready to the last one's end, and the subscriptions examined."""
    context = multiprocessing.get_context("spawn")
    ready, reports = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=scheduler_process, args=(settings, url, moment, ready, reports), name=f"scheduler-{k}")
               for k in range(processes)]
    for worker in workers:
        worker.start()
    try:
        ready.wait(timeout=120)
        started = time.perf_counter()
        passes = [reports.get(timeout=1800) for _ in workers]
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.join(timeout=60)
    examined, charges, errors = (sum(column) for column in zip(*passes, strict=True))
    assert (charges, errors) == (expected, 0), passes
    return expected / elapsed, examined


def run(stack: Stack) -> dict[str, Any]:
    from recur.bootstrap import build_services
    from recur.gateways.sandbox import SandboxGateway
    from recur.scheduler import bill_one

    count, slow_count = scale(100_000, 200), scale(5_000, 100)
    started = datetime(2031, 1, 15, 12, 0, tzinfo=datetime.now().astimezone().tzinfo).astimezone()
    renewal = StoppedClock(started + timedelta(days=31, hours=1))
    notes: list[str] = []

    url = stack.new_database("billing")
    settings = stack.settings(url)
    services = dataclasses.replace(build_services(settings, url, pool_size=4), clock=renewal)
    try:
        t0 = time.perf_counter()
        load_subscriptions(services, count, started)
        _, held = load_subscriptions(services, min(count, scale(20_000, 200)), started - timedelta(days=3), keep=True)
        # The one-process sample: due ten days before the others, billed (alone) at that instant.
        sample, _ = load_subscriptions(services, min(count, scale(20_000, 200)), started - timedelta(days=10))
        loaded_in = time.perf_counter() - t0
        # The baseline's subscriptions are due too: take them out of the schedule before the run.
        services.db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = ANY(%s::uuid[])", ([str(s.id) for s in held],))
        baseline = renew_one_save_each(services, held, renewal.moment)
        early = StoppedClock(renewal.moment - timedelta(days=10))
        one_process_rate, _ = billing_run(dataclasses.replace(services, clock=early), len(sample))
        services.db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = ANY(%s::uuid[])", (sample,))
        if PROCESSES > 1:
            recur_rate, examined = billing_run_in_processes(settings, url, renewal.moment, count, PROCESSES)
        else:
            recur_rate, report = billing_run(services, count)
            examined = report.examined
    finally:
        services.close()
    renewals_s = count / recur_rate
    rows = [Row(f"run_due, {count} due renewals, 0 ms gateway, {PROCESSES} scheduler process{'es' if PROCESSES > 1 else ''}",
                recur_rate, baseline)]
    notes.append(f"{count} renewals in {renewals_s:.1f} s by {PROCESSES} scheduler process{'es' if PROCESSES > 1 else ''} "
                 f"({examined} examined, {count} charges); baseline: {len(held)} subscriptions saved one by one. "
                 f"Loader: {loaded_in:.0f} s for {count + len(held) + len(sample)} subscriptions.")
    notes.append(f"One scheduler process alone (run_due in the benchmark's process, {len(sample)} other due renewals billed just "
                 f"before): {one_process_rate:,.0f} charges/s, {one_process_rate / baseline:.2f}x the baseline.")
    notes.append(f"Targets: ratio >= 1.0 ({'met' if recur_rate >= baseline else 'not met'}); 100,000 renewals < 90 s: "
                 f"{100_000 / recur_rate:.0f} s at this rate ({'met' if 100_000 / recur_rate < 90 else 'not met'}"
                 f"{'' if count >= 100_000 else f', extrapolated from {count}'}).")

    url = stack.new_database("billing_slow")
    slow = stack.settings(url).with_(sandbox_gateway_latency_ms=200)
    services = dataclasses.replace(build_services(slow, url, pool_size=4), clock=renewal)
    services = dataclasses.replace(services, gateway=SandboxGateway(services.db, latency_ms=200))
    try:
        ids, _ = load_subscriptions(services, slow_count + SERIAL_SAMPLE, started)
        sample = ids[-SERIAL_SAMPLE:]
        services.db.execute("DELETE FROM rm_billing_schedule WHERE subscription_id = ANY(%s::uuid[])", (sample,))
        t0 = time.perf_counter()
        for sub_id in sample:
            assert bill_one(services, sub_id)
        serial_each = (time.perf_counter() - t0) / SERIAL_SAMPLE
        slow_rate, slow_report = billing_run(services, slow_count)
    finally:
        services.close()
    ratio = (slow_count * serial_each) / (slow_count / slow_rate)
    rows.append(Row(f"run_due, {slow_count} due renewals, 200 ms gateway", slow_rate, 1 / serial_each))
    notes.append(f"P4b: {slow_count} renewals in {slow_count / slow_rate:.1f} s against {slow_count * serial_each:.0f} s serially "
                 f"({serial_each * 1000:.0f} ms per subscription, measured on {SERIAL_SAMPLE} one after another): serial / actual = "
                 f"{ratio:.1f}; target >= 20 ({'met' if ratio >= 20 else 'not met'}). 64 calls in flight (RECUR_GATEWAY_CONCURRENCY).")
    print_header("Billing run", "bare eventsourcing saves, one per subscription (P4); the serial run (P4b)")
    for row in rows:
        print_row(row)
    for note in notes:
        print("   " + note)
    return result("billing", "Billing run: renewals charged per second", "charges/s",
                  "one eventsourcing save per subscription (P4); the serial run (P4b)", rows, notes)


if __name__ == "__main__":
    main(run)
