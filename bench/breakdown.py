"""Where the time goes: phase timings, statement counts and side-by-side experiments.

Not a benchmark (no baseline): run_all appends these tables to docs/PERFORMANCE.md so that the
reading of the figures rests on measurements of the same run. Each path runs on one thread, twice:

* phases: chosen methods are wrapped on the benchmark's own objects (instance attributes; recur's
  code is untouched) to time each call, wall clock and thread CPU. The overhead is a few
  microseconds per call, so the shares are close to what the benchmark ran.
* cProfile: SQL statements sent per operation (psycopg2 and psycopg 3 `execute` calls) and the
  functions with the most self time. cProfile inflates code made of many small calls (such as the
  pure-Python psycopg 3), so read that list as "what is hot", not as exact shares.

The experiments time an alternative next to what recur does, without changing recur: they are
the evidence for the suggestions at the end of the page.
"""

from __future__ import annotations

import cProfile
import dataclasses
import functools
import pstats
import time
import types
import uuid
from collections.abc import Callable
from typing import Any

from bench.harness import ADMIN_TOKEN, Stack, main, scale
from bench.workload import actor, card_tokens, history_database, make_catalog, start_fields


@dataclasses.dataclass
class Phase:
    key: str
    name: str
    level: int
    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0


@dataclasses.dataclass
class Section:
    """Markdown lines for the page, and the figures the reading quotes."""

    lines: list[str] = dataclasses.field(default_factory=list)
    facts: dict[str, float] = dataclasses.field(default_factory=dict)


class Phases:
    """Times the calls of wrapped methods (single-threaded use)."""

    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self.undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attr: str, key: str, name: str, level: int = 0) -> None:
        original = getattr(owner, attr)
        if attr in vars(owner):
            self.undo.append(functools.partial(setattr, owner, attr, vars(owner)[attr]))
        else:
            self.undo.append(functools.partial(delattr, owner, attr))
        phase = self.phases.setdefault(key, Phase(key, name, level))

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                phase.calls += 1
                phase.wall += time.perf_counter() - wall
                phase.cpu += time.thread_time() - cpu

        setattr(owner, attr, timed)

    def restore(self) -> None:
        """Put the wrapped methods back (the cProfile pass must not time the timers)."""
        while self.undo:
            self.undo.pop()()

    def wrapped(self, fn: Callable[..., Any], key: str, name: str, level: int = 0) -> Callable[..., Any]:
        """A timed copy of a plain function (phases with the same key add up)."""
        holder = types.SimpleNamespace(fn=fn)
        self.wrap(holder, "fn", key, name, level)
        wrapped: Callable[..., Any] = holder.fn
        return wrapped

    def section(self, section: Section, ops: int, unit: str, wall: float, cpu: float, rest: str) -> None:
        """Per operation: calls, wall ms, CPU ms of each phase, then the rest and the total."""
        lines = [f"| per {unit} | calls | wall ms | CPU ms |", "|---|---:|---:|---:|"]
        top_wall = top_cpu = 0.0
        for p in self.phases.values():
            label = ("&nbsp;&nbsp;&nbsp;&nbsp;↳ " if p.level else "") + f"`{p.name}`"
            lines.append(f"| {label} | {p.calls / ops:.2f} | {p.wall / ops * 1e3:.3f} | {p.cpu / ops * 1e3:.3f} |")
            section.facts |= {f"{p.key}_calls": p.calls / ops, f"{p.key}_wall": p.wall / ops * 1e3, f"{p.key}_cpu": p.cpu / ops * 1e3}
            if p.level == 0:
                top_wall += p.wall
                top_cpu += p.cpu
        lines.append(f"| everything else ({rest}) | | {(wall - top_wall) / ops * 1e3:.3f} | {(cpu - top_cpu) / ops * 1e3:.3f} |")
        lines.append(f"| **total** | | **{wall / ops * 1e3:.3f}** | **{cpu / ops * 1e3:.3f}** |")
        section.facts |= {"total_wall": wall / ops * 1e3, "total_cpu": cpu / ops * 1e3}
        section.lines += lines


def timed_run(job: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) taken by job()."""
    wall, cpu = time.perf_counter(), time.thread_time()
    job()
    return time.perf_counter() - wall, time.thread_time() - cpu


PSYCOPG2_STATEMENTS = {
    "<method 'execute' of 'psycopg2.extensions.cursor' objects>",
    "<method 'executemany' of 'psycopg2.extensions.cursor' objects>",
}


def profiled(section: Section, job: Callable[[], object], ops: int, unit: str, top: int = 10) -> None:
    """Run job under cProfile: statements per operation and the functions with the most self time."""
    profile = cProfile.Profile()
    profile.enable()
    job()
    profile.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    psycopg2_calls = sum(v[1] for k, v in stats.items() if k[0] == "~" and k[2] in PSYCOPG2_STATEMENTS)
    psycopg3_calls = sum(v[1] for k, v in stats.items() if k[0].endswith("psycopg/cursor.py") and k[2] in ("execute", "executemany"))
    total = sum(v[2] for v in stats.values())
    section.facts |= {"psycopg2_statements": psycopg2_calls / ops, "psycopg3_statements": psycopg3_calls / ops}
    section.lines += [
        "",
        f"SQL statements per {unit}: {psycopg2_calls / ops:.3g} through psycopg2 (read models, gateway, positions) and "
        f"{psycopg3_calls / ops:.3g} through psycopg 3 (the event store; BEGIN and COMMIT not counted).",
        "",
        f"Most self time under cProfile ({ops} {unit}s; wall clock, so waiting in `poll` or on a socket counts too):",
        "",
        f"| function | calls per {unit} | share of self time |",
        "|---|---:|---:|",
    ]
    ranked = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (filename, line, name), (_, ncalls, tottime, _, _) in ranked:
        section.lines.append(f"| `{short(filename, line, name)}` | {ncalls / ops:.3g} | {tottime / total:.1%} |")


def short(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name.strip("<>")
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


# ---------------------------------------------------------------------------- the paths
def commands(stack: Stack) -> Section:
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription

    n = scale(300, 30)
    url = stack.new_database("profile_commands")
    services = build_services(stack.settings(url), url, pool_size=2)
    section = Section([f"`start_subscription`, {n} subscriptions on one thread:", ""])
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, 2 * n + 20)
        who = actor(catalog.producer_id)

        def starts(offset: int, count: int) -> Callable[[], None]:
            def job() -> None:
                for i in range(offset, offset + count):
                    start_subscription(services, catalog.producer_id, start_fields(catalog.plan_id, tokens[i], i), who)

            return job

        starts(0, 20)()
        phases = Phases()
        events, gateway = services.events, services.gateway
        phases.wrap(events, "load", "load", "events.load")
        phases.wrap(events.recorder, "select_events", "select_events", "recorder.select_events (SQL)", 1)
        phases.wrap(events.mapper, "to_domain_event", "decode", "mapper.to_domain_event", 1)
        phases.wrap(gateway, "prepare_card", "prepare_card", "gateway.prepare_card (SQL)")
        phases.wrap(events, "store", "store", "events.store")
        phases.wrap(events.mapper, "to_stored_event", "encode", "mapper.to_stored_event", 1)
        phases.wrap(events.recorder, "insert_events", "insert_events", "recorder.insert_events (SQL)", 1)
        phases.wrap(gateway, "charge_card", "charge_card", "gateway.charge_card (SQL)")
        wall, cpu = timed_run(starts(20, n))
        phases.restore()
        phases.section(section, n, "subscription", wall, cpu, "domain, hashing, glue")
        profiled(section, starts(20 + n, n), n, "subscription")
    finally:
        services.close()
    return section


def http_get(stack: Stack) -> Section:
    """GET /v1/subscriptions/{id} through Flask's test client, in-process (no server, no network)."""
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription
    from recur.http.app import create_app

    n = scale(1000, 50)
    url = stack.new_database("profile_http")
    services = build_services(stack.settings(url, sandbox=True), url, pool_size=2)
    section = Section(
        [f"`GET /v1/subscriptions/{{id}}` with a producer API key, {n} requests through Flask's test client (in-process):", ""]
    )
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, 50)
        who = actor(catalog.producer_id)
        ids = [
            str(start_subscription(services, catalog.producer_id, start_fields(catalog.plan_id, t, i), who)[0].id)
            for i, t in enumerate(tokens)
        ]
        client = create_app(services).test_client()
        headers = {"Authorization": f"Bearer {catalog.api_key}"}

        def gets(count: int) -> Callable[[], None]:
            def job() -> None:
                for i in range(count):
                    response = client.get(f"/v1/subscriptions/{ids[i % len(ids)]}", headers=headers)
                    assert response.status_code == 200, response.status_code

            return job

        gets(50)()
        phases = Phases()
        phases.wrap(services.events, "load", "load", "events.load (the API key's producer, then the subscription)")
        phases.wrap(services.events.recorder, "select_events", "select_events", "recorder.select_events (SQL)", 1)
        phases.wrap(services.events.mapper, "to_domain_event", "decode", "mapper.to_domain_event", 1)
        wall, cpu = timed_run(gets(n))
        phases.restore()
        phases.section(section, n, "request", wall, cpu, "Flask, auth, view, JSON")
        wall, cpu = timed_run(lambda: [client.get("/healthz") for _ in range(n)])
        section.facts |= {"healthz_wall": wall / n * 1e3, "healthz_cpu": cpu / n * 1e3}
        section.lines += [
            "",
            f"`GET /healthz` through the same test client: {wall / n * 1e3:.3f} ms wall, {cpu / n * 1e3:.3f} ms CPU per request.",
        ]
    finally:
        services.close()
    return section


def drain(relay: Any) -> Callable[[], None]:
    def job() -> None:
        while relay.publish_batch():
            pass

    return job


def relay(stack: Stack) -> Section:
    from bench.harness import event_store
    from recur.consumers.relay import Relay
    from recur.db import Database
    from recur.projections.rebuild import head

    url = history_database(stack, scale(4000, 500))
    events = event_store(url, 2)
    db = Database(url, 2)
    try:
        n = head(db)
        section = Section([f"`Relay.publish_batch` until drained, {n} events in batches of 500:", ""])
        r = Relay(events, db, stack.bootstrap, broker_is_embedded=True)
        r.connect()
        assert r.producer is not None
        phases = Phases()
        phases.wrap(r, "position", "position", "relay.position (SQL)")
        phases.wrap(events.recorder, "select_notifications", "select", "recorder.select_notifications (SQL)")
        phases.wrap(events.mapper, "to_domain_events", "decode", "mapper.to_domain_events (the batch; its data keys in one query)")
        phases.wrap(r.encoder, "encode_event", "encode", "encoder.encode_event")
        phases.wrap(r.producer, "send", "send", "producer.send")
        phases.wrap(r.producer, "flush", "flush", "producer.flush (waits for the acks)")
        phases.wrap(r, "_save", "save", "relay._save (position, SQL)")
        wall, cpu = timed_run(drain(r))
        phases.restore()
        phases.section(section, n, "event", wall, cpu, "offset checks, glue")
        r.close()
        db.execute("UPDATE relay_position SET notification_id = 0")  # bench only: publish the same history again
        again = Relay(events, db, stack.bootstrap, broker_is_embedded=True)
        again.connect()
        profiled(section, drain(again), n, "event")
        again.close()
    finally:
        events.close()
        db.close()
    return section


def rebuild(stack: Stack) -> Section:
    from bench.harness import event_store
    from recur.db import Database
    from recur.projections.rebuild import build_aside, drop_aside, head
    from recur.projections.registry import PROJECTIONS

    url = history_database(stack, scale(4000, 500))
    events = event_store(url, 2)
    db = Database(url, 2)
    try:
        n = head(db)
        section = Section([f"`build_aside` with the {len(PROJECTIONS)} projections, {n} events:", ""])
        phases = Phases()
        phases.wrap(events.recorder, "select_notifications", "select", "recorder.select_notifications (SQL)")
        phases.wrap(events.mapper, "to_domain_event", "decode", "mapper.to_domain_event (in the encoder)")
        projections = []
        for p in PROJECTIONS.values():
            handlers = {name: phases.wrapped(fn, f"handlers_{p.name}", f"{p.name} handlers (SQL)") for name, fn in p.handlers.items()}
            projections.append(dataclasses.replace(p, handlers=handlers))
        # A pool of its own, closed at once: its backend exits and flushes the table statistics.
        building = Database(url, 1)
        built: list[str] = []
        wall, cpu = timed_run(lambda: built.append(build_aside(building, events, projections)[0]))
        building.close()
        phases.restore()
        phases.section(section, n, "event", wall, cpu, "version guard, positions, encoding, commits")
        handler_keys = [k for k in phases.phases if k.startswith("handlers_")]
        section.facts["handlers_wall"] = sum(section.facts[f"{k}_wall"] for k in handler_keys)
        section.facts["handlers_cpu"] = sum(section.facts[f"{k}_cpu"] for k in handler_keys)
        table_writes(section, db, built[0], n)
        drop_aside(db, built[0])
        plain = list(PROJECTIONS.values())
        profiled(section, lambda: drop_aside(db, build_aside(db, events, plain)[0]), n, "event")
    finally:
        events.close()
        db.close()
    return section


def table_writes(section: Section, db: Any, schema: str, events: int) -> None:
    """Rows inserted and updated per event in each table of the aside schema (pg_stat_user_tables)."""
    rows: list[tuple[Any, ...]] = []
    for _ in range(30):  # the statistics reach the shared view shortly after the writing backend exits
        rows = db.fetchall(
            "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE schemaname = %s AND n_tup_ins + n_tup_upd > 0 "
            "ORDER BY n_tup_ins + n_tup_upd DESC",
            (schema,),
        )
        if rows:
            break
        time.sleep(0.1)
    section.lines += [
        "",
        "Rows written per event, by table (`pg_stat_user_tables`):",
        "",
        "| table | inserts | updates |",
        "|---|---:|---:|",
    ]
    section.lines += [f"| `{name}` | {ins / events:.2f} | {upd / events:.2f} |" for name, ins, upd in rows]
    total = sum(r[1] + r[2] for r in rows) / events
    section.lines.append(f"| **all tables** | | **{total:.2f}** rows per event |")
    section.facts["writes"] = total
    for name, ins, upd in rows:
        section.facts[f"writes_{name}"] = (ins + upd) / events


# ---------------------------------------------------------------------------- experiments
class Experiments:
    def __init__(self) -> None:
        self.section = Section(["| experiment | as recur does it | alternative | gain |", "|---|---:|---:|---:|"])

    def add(self, key: str, name: str, unit: str, current: float, alternative: float, higher_is_better: bool) -> None:
        gain = alternative / current if higher_is_better else current / alternative
        self.section.lines.append(f"| {name} | {current:,.0f} {unit} | {alternative:,.0f} {unit} | x{gain:.2f} |")
        self.section.facts |= {f"{key}_current": current, f"{key}_alternative": alternative, f"{key}_gain": gain}


def best_us(fn: Callable[[], object], n: int, rounds: int = 3) -> float:
    """Microseconds per call, the best of a few rounds (other processes share these cores)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def experiments(stack: Stack) -> Section:
    x = Experiments()
    sql_experiments(stack, x)
    api_key_experiment(stack, x)
    relay_batch_size(stack, x)
    return x.section


def sql_experiments(stack: Stack, x: Experiments) -> None:
    import psycopg2
    import psycopg2.extras

    from bench.harness import event_store
    from recur.db import Database
    from recur.domain.catalog import Product

    url = stack.new_database("experiments")
    db = Database(url, 1)
    raw = psycopg2.connect(url)
    raw.autocommit = True
    try:
        # A read through Database.fetchone (BEGIN, SELECT, COMMIT: three round trips) vs autocommit (one).
        n = scale(2000, 100)
        query = "SELECT now FROM sandbox_clock WHERE id = 1"
        with raw.cursor() as cur:
            in_tx = best_us(lambda: db.fetchone(query), n)
            autocommit = best_us(lambda: (cur.execute(query), cur.fetchall()), n)
        x.add(
            "read",
            "one psycopg2 read (`SandboxClock.now`, `describe_token`, ...): `Database.fetchone` vs autocommit",
            "µs",
            in_tx,
            autocommit,
            False,
        )

        # Read-model writes: one statement per round trip vs execute_batch (100 statements per round trip).
        raw.autocommit = False
        with raw, raw.cursor() as cur:
            cur.execute("CREATE TABLE bench_upserts (id uuid PRIMARY KEY, version integer, topic text)")
            cur.execute("CREATE TABLE bench_saves (id uuid PRIMARY KEY, payload jsonb)")
        ids = [str(uuid.uuid4()) for _ in range(400)]
        rows = [(ids[i % len(ids)], i, "recur.domain.subscription:Subscription.ChargeSucceeded") for i in range(scale(4000, 400))]
        upsert = (
            "INSERT INTO bench_upserts (id, version, topic) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"
        )

        def one_by_one() -> None:
            with raw, raw.cursor() as cur:
                for row in rows:
                    cur.execute(upsert, row)

        def batched() -> None:
            with raw, raw.cursor() as cur:
                psycopg2.extras.execute_batch(cur, upsert, rows, page_size=100)

        one_by_one()
        runs = [(timed_run(one_by_one)[0], timed_run(batched)[0]) for _ in range(3)]
        slow, fast = min(r[0] for r in runs), min(r[1] for r in runs)
        x.add(
            "batch",
            "read-model upserts: one `execute` each vs `execute_batch` (100 per round trip)",
            "rows/s",
            len(rows) / slow,
            len(rows) / fast,
            True,
        )

        # An event-store save of one new aggregate vs a psycopg2 INSERT + COMMIT: wall time and client CPU,
        # in three alternating rounds, the best of each.
        events = event_store(url, 1)
        m = scale(300, 30)

        def saves() -> None:
            for _ in range(m):
                events.store(Product(producer_id=str(uuid.uuid4()), name="p", actor=actor()))

        def insert(notify: bool) -> Callable[[], None]:
            def job() -> None:
                with raw, raw.cursor() as cur:
                    if notify:
                        cur.execute("NOTIFY bench_channel")
                    cur.execute("INSERT INTO bench_saves VALUES (%s, %s)", (str(uuid.uuid4()), '{"name": "p"}'))

            return job

        def inserts() -> None:
            for _ in range(m):
                insert(False)()

        try:
            timed_run(saves)
            rounds = [(timed_run(saves), timed_run(inserts)) for _ in range(3)]
        finally:
            events.close()
        wall, cpu = min(r[0][0] for r in rounds), min(r[0][1] for r in rounds)
        raw_wall, raw_cpu = min(r[1][0] for r in rounds), min(r[1][1] for r in rounds)
        x.add(
            "save_wall",
            "one save, wall: `events.store(new aggregate)` vs psycopg2 INSERT + COMMIT",
            "µs",
            wall / m * 1e6,
            raw_wall / m * 1e6,
            False,
        )
        x.add("save_cpu", "one save, client CPU: the same two", "µs", cpu / m * 1e6, raw_cpu / m * 1e6, False)
        with_notify = best_us(insert(True), m)
        without = best_us(insert(False), m)
        x.add(
            "notify",
            "psycopg2 INSERT + COMMIT with a NOTIFY in the transaction (as every event-store save) vs without",
            "µs",
            with_notify,
            without,
            False,
        )
    finally:
        raw.close()
        db.close()


def api_key_experiment(stack: Stack, x: Experiments) -> None:
    """GET /v1/subscriptions/{id} with a producer API key (its producer is read from the event store on
    every request) vs the admin token (compared in memory): what verifying the key costs."""
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription
    from recur.http.app import create_app

    url = stack.new_database("experiments_http")
    services = build_services(stack.settings(url, sandbox=True), url, pool_size=2)
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, 20)
        who = actor(catalog.producer_id)
        ids = [
            str(start_subscription(services, catalog.producer_id, start_fields(catalog.plan_id, t, i), who)[0].id)
            for i, t in enumerate(tokens)
        ]
        client = create_app(services).test_client()
        n = scale(300, 30)

        def get(token: str) -> Callable[[], None]:
            def job() -> None:
                for i in range(n):
                    response = client.get(f"/v1/subscriptions/{ids[i % len(ids)]}", headers={"Authorization": f"Bearer {token}"})
                    assert response.status_code == 200, response.status_code

            return job

        get(catalog.api_key)()
        producer = min(timed_run(get(catalog.api_key))[0] for _ in range(3))
        admin = min(timed_run(get(ADMIN_TOKEN))[0] for _ in range(3))
        x.add(
            "api_key",
            "GET /v1/subscriptions/{id} in-process: producer API key (one event-store read) vs admin token",
            "req/s",
            n / producer,
            n / admin,
            True,
        )
    finally:
        services.close()


def relay_batch_size(stack: Stack, x: Experiments) -> None:
    """The relay with kafka-python's default batch_size (16 KiB, what recur uses) vs 256 KiB."""
    from kafka import KafkaProducer

    from bench.harness import event_store
    from bench.relay import producer_settings
    from recur.consumers.relay import Relay
    from recur.db import Database
    from recur.projections.rebuild import head

    url = history_database(stack, scale(4000, 500))
    events = event_store(url, 2)
    db = Database(url, 2)
    try:
        n = head(db)
        best: dict[int, float] = {}
        for batch_size in (16384, 262144, 16384, 262144):
            db.execute("UPDATE relay_position SET notification_id = 0")  # bench only: publish the history again
            r = Relay(events, db, stack.bootstrap, broker_is_embedded=True)
            r.producer = KafkaProducer(
                bootstrap_servers=stack.bootstrap, client_id="recur-relay", batch_size=batch_size, **producer_settings()
            )
            r.connect()  # keeps the producer it was given
            best[batch_size] = max(best.get(batch_size, 0.0), n / timed_run(drain(r))[0])
            r.close()
    finally:
        events.close()
        db.close()
    x.add(
        "relay_batch",
        "relay: producer `batch_size` 16 KiB (kafka-python's default) vs 256 KiB",
        "events/s",
        best[16384],
        best[262144],
        True,
    )


# ---------------------------------------------------------------------------- all of it
TITLES = {
    "commands": "start_subscription",
    "http": "GET /v1/subscriptions/{id}",
    "relay": "Relay",
    "rebuild": "Rebuild",
    "experiments": "Experiments: alternatives measured in the same run",
}


def run(stack: Stack) -> dict[str, Any]:
    sections = {
        "commands": commands(stack),
        "http": http_get(stack),
        "relay": relay(stack),
        "rebuild": rebuild(stack),
        "experiments": experiments(stack),
    }
    for name, section in sections.items():
        print(f"\n== breakdown: {TITLES[name]}\n" + "\n".join(section.lines), flush=True)
    return {"name": "breakdown", "sections": {k: s.lines for k, s in sections.items()}, "facts": {k: s.facts for k, s in sections.items()}}


if __name__ == "__main__":
    main(run)
