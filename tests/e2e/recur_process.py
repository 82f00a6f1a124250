"""`recur up` as a real subprocess on a free port and its own data dir, for e2e and browser tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ADMIN = "adm_e2e"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RecurProcess:
    data_dir: Path
    port: int
    api_workers: int = 3  # `recur up --workers`
    schedulers: int = 1  # `recur up --schedulers`
    process: subprocess.Popen[bytes] | None = None
    runtime: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0, own_terminal_group: bool = False) -> dict[str, Any]:
        """`own_terminal_group`: start it as a shell starts a command, in a process group of its own, so a test
        can send the group the SIGINT a Ctrl-C sends."""
        runtime_file = self.data_dir / "runtime.json"
        runtime_file.unlink(missing_ok=True)
        env = {**os.environ, "RECUR_ADMIN_TOKEN": ADMIN, "RECUR_SANDBOX": "1"}
        env.pop("RECUR_DATABASE_URL", None)
        env.pop("RECUR_KAFKA_BOOTSTRAP_SERVERS", None)
        env.pop("RECUR_SMTP_URL", None)
        log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")  # noqa: SIM115 - kept for the process's life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recur.cli", "up", "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--workers", str(self.api_workers), "--schedulers", str(self.schedulers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            process_group=0 if own_terminal_group else None,
        )
        deadline = time.monotonic() + timeout
        while not runtime_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"recur up exited with {self.process.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"recur up not ready after {timeout}s; see {log.name}")
            time.sleep(0.2)
        self.runtime = json.loads(runtime_file.read_text())
        return self.runtime

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def descendants(self) -> list[int]:
        assert self.process is not None
        try:
            return [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)
