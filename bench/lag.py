"""End-to-end lag (P2): command committed -> read model updated, while commands arrive at a steady rate.

recur: `start_subscription` (SubscriptionStarted + ChargeAttempted, a sandbox charge, ChargeSucceeded: three events)
called from a few threads at a steady, paced rate, with the relay and the projection consumer running as `recur up`
runs them (`python -m recur.cli worker relay|consumer`, separate processes on the same two cores). The lag of a
command is the time from its return (its last event committed) to the moment a poller, querying `rm_subscriptions`
every few milliseconds on its own connection, first sees the subscription charged (`paid_recurrences >= 1`): the
relay's LISTEN wake-up (it then gathers for 10 ms, so that a batch holds several commands) and read, the publish to
Kafka, the consumer's poll and its read-model transaction, plus half a poll interval on average.

The rate: the highest steady rate this machine sustains with the pipeline running. A short unpaced burst of commands
first measures what the threads can do at most; the paced phase then runs at a share of it (PACE), so that commands
do not queue behind each other and the lag is the pipeline's, not a backlog's. The rate achieved is given in events/s.
Target: p99 < 500 ms at 1,000 events/s; a 2-core machine running API, relay, consumer and PostgreSQL together does
not reach 1,000 events/s of commands, so the figure is at the rate stated. Why not: the notes give the CPU each process
spent per command over the paced phase (bench/cpu_shares.py: the driver, the relay, the consumer, the whole PostgreSQL
cluster, the broker, and other work on the machine) and the rate the two cores would allow at that cost. Measured in
runs at BENCH_SCALE=0.2 and 0.5: 7.5-9.6 ms of CPU per command in all (driver 2.2-3.1, PostgreSQL 2.8-3.4, relay
1.2-1.6, consumer 0.8-1.1, broker 0.5-0.7), so at most 210-265 commands/s = 625-800 events/s with both cores busy and
nothing else running; 1,000 events/s needs the whole pipeline at 6 ms per command or less. More driver processes would
not help (the driver's threads reach 236-241/s unpaced on their own, at that ceiling already); the cost per command is
the gap: the start's 17 statements and two event-store saves, the sandbox charge's transaction, and each event's trip
through relay, broker and consumer.

baseline: the raw round trip of the same steps without Kafka: the same threads at the same rate INSERT a ~1 KB row
into a plain table and commit, and the same poller, on its own connection, sees it: what PostgreSQL, the client and
the poll interval cost. The ratio (recur / baseline) is how much the relay, Kafka and the consumer add.
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.cpu_shares import CpuMeter, cores, postgres_cpu, process_cpu
from bench.harness import ADMIN_TOKEN, DATA, ROOT, Row, Stack, main, measure, print_header, print_row, result, scale
from bench.workload import actor, card_tokens, make_catalog, start_fields

THREADS = 4
PACE = 0.6  # share of the unpaced rate run in the paced phase
POLL = 0.005  # seconds between the poller's queries
EVENTS_PER_COMMAND = 3
TARGET_MS = 500.0
TARGET_RATE = 1000
BASELINE = "raw INSERT + commit of a ~1 KB row at the same rate, seen by the same poller on another connection (no Kafka)"


class Worker:
    """`python -m recur.cli worker <name>` as `recur up` starts it; started and stopped by us."""

    def __init__(self, stack: Stack, database_url: str, name: str) -> None:
        env = {
            **os.environ,
            "RECUR_DATABASE_URL": database_url,
            "RECUR_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
            "RECUR_KAFKA_EMBEDDED": "1",
            "RECUR_ADMIN_TOKEN": ADMIN_TOKEN,
            "RECUR_DATA_DIR": str(DATA),
            "RECUR_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.log_path = DATA / f"lag-{name}.log"
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "recur.cli", "worker", name], env=env, cwd=ROOT,
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited with code {self.process.returncode}; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Poller:
    """A thread querying, every POLL seconds, which of the awaited ids are visible; records when each first is."""

    def __init__(self, database_url: str, query: str) -> None:
        import psycopg2

        self.conn = psycopg2.connect(database_url)
        self.conn.autocommit = True
        self.query = query  # one parameter: a uuid[] of the awaited ids; returns the visible ones
        self.awaited: dict[str, float] = {}  # id -> when the command returned
        self.lags: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self.loop, name="bench-poller", daemon=True)
        self.thread.start()

    def expect(self, ident: str, done_at: float) -> None:
        with self.lock:
            self.awaited[ident] = done_at

    def loop(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stopped:
                with self.lock:
                    ids = list(self.awaited)
                if ids:
                    cur.execute(self.query, (ids,))
                    seen_at = time.perf_counter()
                    with self.lock:
                        for (ident,) in cur.fetchall():
                            done_at = self.awaited.pop(str(ident), None)
                            if done_at is not None:
                                self.lags[str(ident)] = seen_at - done_at
                time.sleep(POLL)

    def wait(self, count: int, timeout: float, check: Callable[[], None] = lambda: None) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lags) < count:
            check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.lags)} of {count} seen within {timeout:.0f}s")
            time.sleep(0.05)

    def close(self) -> None:
        self.stopped = True
        self.thread.join(timeout=5)
        self.conn.close()


def paced(fn: Callable[[int], str], n: int, per_second: float, poller: Poller) -> float:
    """Call fn(0) .. fn(n-1) from THREADS threads, call i not before i / per_second; returns the rate achieved.
    Each call returns the id the poller waits for, registered with the moment the call returned."""
    counter = itertools.count()
    errors: list[BaseException] = []
    started = time.perf_counter() + 0.05

    def work() -> None:
        while not errors:
            i = next(counter)
            if i >= n:
                return
            delay = started + i / per_second - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                ident = fn(i)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
                errors.append(error)
                return
            poller.expect(ident, time.perf_counter())

    pool = [threading.Thread(target=work, name=f"bench-lag-{k}") for k in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return n / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run(stack: Stack) -> dict[str, Any]:
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription

    warmup, burst, n = scale(200, 20), scale(1000, 60), scale(3000, 200)
    url = stack.new_database("lag")
    services = build_services(stack.settings(url), url, pool_size=THREADS + 1)
    workers: list[Worker] = []
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, warmup + burst + n)
        who = actor(catalog.producer_id)

        def starter(offset: int) -> Callable[[int], str]:
            def start(i: int) -> str:
                fields = start_fields(catalog.plan_id, tokens[offset + i], offset + i)
                return str(start_subscription(services, catalog.producer_id, fields, who)[0].id)

            return start

        workers = [Worker(stack, url, "relay"), Worker(stack, url, "consumer")]

        def check() -> None:
            for w in workers:
                w.check()

        poller = Poller(url, "SELECT id FROM rm_subscriptions WHERE id = ANY(%s::uuid[]) AND paid_recurrences >= 1")
        try:
            # Warm-up: the consumer joins its group (seconds) and everything is loaded.
            paced(starter(0), warmup, 50.0, poller)
            poller.wait(warmup, 120, check)
            # The most the threads do with the pipeline running, unpaced.
            top = measure(lambda i: poller.expect(starter(warmup)(i), time.perf_counter()), burst, THREADS)
            poller.wait(warmup + burst, 120, check)
            poller.lags.clear()
            per_second = PACE * top
            meter = CpuMeter({"driver": process_cpu(os.getpid()), "relay": process_cpu(workers[0].process.pid),
                              "consumer": process_cpu(workers[1].process.pid), "PostgreSQL": postgres_cpu(stack.postgres.pgdata),
                              "broker": process_cpu(stack.broker.pid)})
            meter.start()
            achieved = paced(starter(warmup + burst), n, per_second, poller)
            poller.wait(n, 120, check)
            spent = meter.shares()
            lags = sorted(v * 1000 for v in poller.lags.values())
        finally:
            poller.close()
    finally:
        for w in workers:
            w.stop()
        services.close()

    # Baseline: the same threads and pacing, a raw INSERT + commit, the same poller on another connection.
    import psycopg2

    body = "x" * 1000
    local = threading.local()
    conns: list[Any] = []
    setup = psycopg2.connect(url)
    setup.autocommit = True
    with setup.cursor() as cur:
        cur.execute("CREATE TABLE bench_lag (id uuid PRIMARY KEY, body text NOT NULL)")
    setup.close()

    def insert(i: int) -> str:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg2.connect(url)
            conns.append(conn)
        ident = str(uuid.uuid4())
        with conn.cursor() as cur:
            cur.execute("INSERT INTO bench_lag (id, body) VALUES (%s, %s)", (ident, body))
        conn.commit()
        return ident

    poller = Poller(url, "SELECT id FROM bench_lag WHERE id = ANY(%s::uuid[])")
    try:
        paced(insert, warmup, 50.0, poller)
        poller.wait(warmup, 30)
        poller.lags.clear()
        paced(insert, n, per_second, poller)
        poller.wait(n, 30)
        raw = sorted(v * 1000 for v in poller.lags.values())
    finally:
        poller.close()
        for conn in conns:
            conn.close()

    events_rate = achieved * EVENTS_PER_COMMAND
    p50, p99, b50, b99 = percentile(lags, 50), percentile(lags, 99), percentile(raw, 50), percentile(raw, 99)
    met = "met" if p99 < TARGET_MS else "not met"
    rate_note = "" if events_rate >= TARGET_RATE else f" at the {events_rate:,.0f} events/s reached ({TARGET_RATE:,} not sustained here)"
    rows = [
        Row(f"p50 lag, {events_rate:,.0f} events/s", p50, b50),
        Row(f"p99 lag, {events_rate:,.0f} events/s", p99, b99, f"< {TARGET_MS:.0f} ms at {TARGET_RATE:,} events/s: {met}{rate_note}"),
    ]
    print_header(f"lag: command committed -> read model updated (ms), {achieved:,.0f} commands/s", BASELINE)
    for row in rows:
        print_row(row)
    notes = [
        f"{n} start_subscription commands from {THREADS} threads, paced at {per_second:,.0f}/s ({PACE:.0%} of the "
        f"{top:,.0f}/s the threads reached unpaced with the pipeline running); achieved {achieved:,.0f} commands/s = "
        f"{events_rate:,.0f} events/s ({EVENTS_PER_COMMAND} events each), after {warmup} warm-up commands.",
        f"Lag in ms: recur p50 {p50:.0f}, p90 {percentile(lags, 90):.0f}, p99 {p99:.0f}, max {lags[-1]:.0f}; baseline p50 "
        f"{b50:.1f}, p99 {b99:.1f}, max {raw[-1]:.1f}. Poll interval {POLL * 1000:.0f} ms (in both).",
        f"Target p99 < {TARGET_MS:.0f} ms at {TARGET_RATE:,} events/s: {met}{rate_note}"
        + ("" if events_rate >= TARGET_RATE else " (the highest steady rate this machine sustained with relay, consumer and "
           "PostgreSQL on the same two cores; the CPU each part spends per command, below, says why)") + ".",
    ]
    notes.append(cpu_note(spent, n))
    for note in notes:
        print("   " + note)
    return result("lag", "End-to-end lag: command committed -> read model updated (P2)", "ms", BASELINE, rows, notes)


def cpu_note(spent: dict[str, float], commands: int) -> str:
    """Where the cores went during the paced phase, per command, and the rate they would allow with nothing else on them."""
    per_command = {name: seconds * 1000 / commands for name, seconds in spent.items()}
    ours = sum(ms for name, ms in per_command.items() if name != "other work")
    ceiling = cores() * 1000 / ours
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_command.items() if name != "other work")
    return (f"CPU per command over the paced phase, in ms (kernel accounting, per process): {parts}; {ours:.2f} in all, "
            f"plus {per_command['other work']:.2f} of other work on the machine. At that cost the {cores()} cores, doing "
            f"nothing else, would allow at most {ceiling:,.0f} commands/s = {ceiling * EVENTS_PER_COMMAND:,.0f} events/s; the "
            f"driver alone (one process: start_subscription's Python under one GIL) at most "
            f"{1000 / per_command['driver']:,.0f} commands/s.")


if __name__ == "__main__":
    main(run)
