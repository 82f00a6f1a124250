"""End to end: one `recur up` subprocess for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from recur_process import RecurProcess, free_port


@pytest.fixture(scope="session")
def recur_up(data_root: Path) -> Iterator[RecurProcess]:
    data_dir = data_root / f"e2e-{os.getpid()}"
    data_dir.mkdir(exist_ok=True)
    # Two billing schedulers, as a deployment that scales its renewal runs: every scenario of the session is billed by
    # both, sharing the work through their claims, and must still charge each installment once. Two API workers:
    # requests are spread over more than one, and the two cores have less to share.
    proc = RecurProcess(data_dir, free_port(), api_workers=2, schedulers=2)
    proc.start()
    yield proc
    if proc.process is not None and proc.process.poll() is None:
        proc.stop()
