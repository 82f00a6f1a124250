"""CPU seconds spent by each part of a running stack over a phase of a benchmark, from the kernel's accounting.

Wall-clock rates say how fast; these say where the machine's two cores went meanwhile, per part (the benchmark's own
process, each worker, PostgreSQL with all its backends, the broker), so that a note can say which part a higher rate
would need more of, and what rate the cores would allow at best.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import psutil


def process_cpu(pid: int) -> Callable[[], float]:
    """User + system CPU seconds of one process (its threads included)."""
    process = psutil.Process(pid)

    def read() -> float:
        times = process.cpu_times()
        return times.user + times.system

    return read


def postgres_cpu(pgdata: Path) -> Callable[[], float]:
    """The whole cluster: the postmaster, the backends it has reaped and the ones still running (every connection of
    every client, the checkpointer and the WAL writer)."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))

    def read() -> float:
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += child_times.user + child_times.system
        return total

    return read


def machine_busy() -> float:
    """CPU seconds every core of the machine spent busy since boot (what other work ran is the rest)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


class CpuMeter:
    """`start()`, then `shares()`: each part's CPU seconds since, and `other work` (what else ran on the machine)."""

    def __init__(self, parts: dict[str, Callable[[], float]]) -> None:
        self.parts = parts
        self.started: dict[str, float] = {}

    def start(self) -> None:
        self.started = {name: read() for name, read in self.parts.items()} | {"machine": machine_busy()}

    def shares(self) -> dict[str, float]:
        spent = {name: read() - self.started[name] for name, read in self.parts.items()}
        spent["other work"] = max(0.0, machine_busy() - self.started["machine"] - sum(spent.values()))
        return spent


def cores() -> int:
    return os.cpu_count() or 1
