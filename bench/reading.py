"""The reading of a run: what the ratios mean and where the time goes, with this run's figures.

The explanations were written from the profiles of the first runs (2026-11-24); every number quoted
comes from the run that writes the page. If a suggestion gets done, rewrite the paragraph it changes.
"""

from __future__ import annotations

from typing import Any


def row(results: list[dict[str, Any]], benchmark: str, prefix: str) -> dict[str, Any]:
    for r in results:
        if r["name"] == benchmark:
            for candidate in r["rows"]:
                if candidate["name"].startswith(prefix):
                    return dict(candidate)
    raise KeyError(f"{benchmark}: {prefix}")


def psycopg_impl() -> str:
    import psycopg

    return str(psycopg.pq.__impl__)


def reading(results: list[dict[str, Any]], prof: dict[str, Any]) -> list[str]:
    facts: dict[str, dict[str, float]] = prof["facts"]
    c, h, rl, rb, x = facts["commands"], facts["http"], facts["relay"], facts["rebuild"], facts["experiments"]
    one, four = row(results, "commands", "start_subscription, 1"), row(results, "commands", "start_subscription, 4")
    get, post = row(results, "http", "GET"), row(results, "http", "POST")
    relay, rebuild = row(results, "relay", "relay"), row(results, "rebuild", "build_aside")
    cpu_share = c["total_cpu"] / c["total_wall"]
    pure_python = psycopg_impl() == "python"
    statements = c["psycopg2_statements"] + c["psycopg3_statements"]
    return [
        "## Reading",
        "",
        "On this machine every path is bound by CPU, not by PostgreSQL's disk: the client, the server processes and",
        "PostgreSQL share two cores, and most of recur's time is Python. The breakdown above says where; in short:",
        "",
        f"**Commands ({one['ratio']:.3f} on one thread, {four['ratio']:.3f} on four).** A started subscription takes "
        f"{c['total_wall']:.1f} ms on one thread, {c['total_cpu']:.1f} ms of it ({cpu_share:.0%}) CPU in the calling Python "
        f"thread; the baseline's insert and commit take {1000 / one['baseline']:.2f} ms. `start_subscription` reads two "
        f"aggregates, saves twice (each save a transaction with `LOCK TABLE`, `NOTIFY`, the insert and a commit), and runs two "
        f"psycopg2 transactions (card lookup, gateway charge): three commits that flush the WAL where the baseline has one, "
        f"and {statements:.0f} statements where it has one. The two saves are the largest part ({c['store_wall']:.2f} ms, "
        f"{c['store_cpu']:.2f} ms CPU): one save costs {x['save_cpu_current']:,.0f} µs of client CPU "
        f"against {x['save_cpu_alternative']:,.0f} µs for a "
        f"psycopg2 insert and commit. "
        + (
            "The cProfile list of the commands is mostly psycopg 3 internals (`pq_ctypes`, `waiting`, `generators`): see suggestion 1. "
            if pure_python
            else ""
        )
        + f"Four threads give x{four['recur'] / one['recur']:.2f} of "
        f"one thread where the baseline gets x{four['baseline'] / one['baseline']:.2f}"
        + (" (concurrent commits share a WAL flush)" if four["baseline"] > 1.2 * one["baseline"] else "")
        + f": with "
        f"{c['total_cpu']:.1f} ms of GIL-holding work per subscription one process cannot start more than about "
        f"{1000 / c['total_cpu']:.0f} subscriptions per second whatever its thread count: the GIL limits threads here before "
        "the event store's table lock does. More throughput comes from more processes (gunicorn workers, several API hosts).",
        "",
        f"**HTTP ({get['ratio']:.3f} for GET, {post['ratio']:.3f} for POST).** Through Flask's test client a GET costs "
        f"{h['total_wall']:.2f} ms against {h['healthz_wall']:.2f} ms for `/healthz`; {h['load_wall']:.2f} ms of it are the two "
        "event-store reads: the subscription, and the producer named by the API key, read again on every request to check "
        f"the key. The experiment without that read (admin token) serves x{x['api_key_gain']:.2f} the requests. A POST is "
        f"the whole command plus three `SandboxClock.now()` reads (sandbox mode), so it runs at about the commands' rate "
        f"({post['recur']:.0f}/s with two workers against {one['recur']:.0f}/s on one in-process thread). Even `/healthz` "
        f"tops out at {get['baseline']:,.0f}/s: with the load client on the same two cores these are CPU-bound figures.",
        "",
        f"**Relay ({relay['ratio']:.3f}).** Per event the relay spends {rl['total_wall']:.3f} ms, {rl['total_cpu']:.3f} ms of it "
        f"CPU: {rl['encode_cpu']:.3f} ms encoding the public event (of which {rl['decode_cpu']:.3f} ms decoding the stored one), "
        f"{rl['send_cpu']:.3f} ms in kafka-python's `send` (the baseline's whole cost is this part), {rl['select_wall']:.3f} ms "
        f"reading notifications; waiting for acknowledgements is {rl['flush_wall']:.3f} ms per event. So the relay costs about "
        "twice a bare producer because it reads, decodes and re-encodes every event; the per-batch flush and position save are "
        f"cheap. A larger producer `batch_size` gave x{x['relay_batch_gain']:.2f} in the experiment.",
        "",
        f"**Rebuild ({rebuild['ratio']:.3f}).** Per event {rb['total_wall']:.3f} ms of wall time but only {rb['total_cpu']:.3f} ms "
        f"of CPU: the rest is waiting for PostgreSQL, one round trip per statement, and there are "
        f"{rb['psycopg2_statements']:.1f} statements per event where the baseline has one. The rows written per event "
        f"({rb['writes']:.2f}) show why: every projection writes its own rows, `projection_versions` gets one write per "
        f"aggregate and projection in each page ({rb.get('writes_projection_versions', 0):.2f} per event), and `rm_subscriptions` "
        f"is inserted then updated once per later event of the same subscription ({rb.get('writes_rm_subscriptions', 0):.2f} per "
        f"event). Sending 100 statements per round trip with `execute_batch` wrote x{x['batch_gain']:.2f} the rows per second "
        "in the experiment.",
        "",
        "## Suggestions (for the lead)",
        "",
        "The benchmarks change nothing in recur; these are what the measurements point at, largest expected gain first.",
        "",
        (
            "1. **Install psycopg 3's C implementation.** `eventsourcing[postgres]` depends on plain `psycopg`, which falls "
            "back to its pure-Python libpq wrapper (see *Parts* above). Adding `psycopg[binary]` (same version as `psycopg`) "
            "to `pyproject.toml` is one line. Measured on 2026-11-24 by running this whole suite twice, minutes apart, the "
            "second time from a side venv that only added `psycopg-binary==3.3.9`: start_subscription 138 -> 173/s on one "
            "thread and 179 -> 257/s on four; CPU per subscription 4.54 -> 3.43 ms; GET /v1/subscriptions/{id} 788 -> 992/s; "
            "POST 175 -> 188/s; relay 4,581 -> 5,249 events/s; rebuild unchanged (psycopg2-bound)."
            if pure_python
            else "1. psycopg 3 runs its C implementation (suggested on 2026-11-24: it cut the CPU per subscription by a quarter)."
        ),
        f"2. **Batch the read-model writes.** `apply_events` sends one statement per handler call and one per aggregate for "
        f"`projection_versions`: {rb['psycopg2_statements']:.1f} round trips per event. Writing `projection_versions` with one "
        "`INSERT ... SELECT FROM unnest(...) ON CONFLICT` per page and projection, and letting handlers queue their statements "
        f"for `execute_batch` (x{x['batch_gain']:.2f} in the experiment), would speed up the rebuild and the live consumer "
        "alike; folding a page's events per aggregate before writing would cut `rm_subscriptions` to one write per subscription.",
        f"3. **Cache verified API keys per worker.** Each producer-authenticated request reads the producer from the event "
        f"store to check its key: x{x['api_key_gain']:.2f} on GET without it. A small in-process map from the key's SHA-256 to "
        "the producer, kept a short time (say 30 s), trades that read for a revocation delay of the same length.",
        f"4. **Run psycopg2 reads in autocommit.** `Database.fetchone`/`fetchall` open a transaction for a single SELECT "
        f"(BEGIN, SELECT, COMMIT: three round trips): {x['read_current']:,.0f} µs against {x['read_alternative']:,.0f} µs in "
        "autocommit. `SandboxClock.now()` (three per started subscription in sandbox mode), `describe_token`, the relay's "
        "`position()` and the read-model queries of the list endpoints would all gain.",
        f"5. **Do not reload a subscription recur has just saved.** `start_subscription` saves the new subscription, then "
        f"`finish_charge` loads it again from the store; nobody else knows its id yet, so the in-memory aggregate can record "
        f"the charge result: one of the two event-store reads ({c['load_wall'] / 2:.2f} ms, {c['load_cpu'] / 2:.2f} ms CPU of "
        f"{c['total_wall']:.1f} ms). `finish_charge` could take the aggregate and fall back to loading only after a conflict.",
        f"6. **Relay**: a 256 KiB producer `batch_size` (x{x['relay_batch_gain']:.2f} measured; order is unchanged with one "
        "request in flight); beyond that, encoding straight from the stored JSON instead of rebuilding domain events would "
        f"save part of the {rl['encode_cpu']:.3f} ms per event.",
        "7. **Scale out with processes, not threads.** One process is capped by the GIL (see Commands); `recur up` already "
        "runs several gunicorn workers: keep their number near the cores, and threads per worker only for I/O waits.",
        f"8. Minor: every event-store save also sends a `NOTIFY` inside the table-locked transaction "
        f"(+{x['notify_current'] - x['notify_alternative']:.0f} µs per commit in the experiment); the relay could poll "
        "instead, but that is eventsourcing's recorder and not worth a fork today.",
    ]
