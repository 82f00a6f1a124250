"""A live `recur up` and Debian's Chromium driven by Playwright, for tests of the web pages.

`recur up` is started exactly as tests/e2e does it, with tests/e2e/recur_process.py loaded from its file
path, so there is one way to run it.
Playwright's own browser downloads are never used: the system Chromium is the browser under test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _e2e_support() -> Any:
    spec = importlib.util.spec_from_file_location("recur_e2e_process", Path(__file__).resolve().parents[1] / "e2e" / "recur_process.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is being built
    spec.loader.exec_module(module)
    return module


e2e = _e2e_support()


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium; `make test` installs it)")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_recur(chromium_executable: Path, data_root: Path) -> Iterator[Any]:
    """Started only once a browser is known to be there: without one there is nothing to test."""
    data_dir = data_root / f"browser-{os.getpid()}"
    data_dir.mkdir(exist_ok=True)
    proc = e2e.RecurProcess(data_dir, e2e.free_port())
    proc.start()
    yield proc
    if proc.process is not None and proc.process.poll() is None:
        proc.stop()
    shutil.rmtree(data_dir, ignore_errors=True)  # ~50 MB of PostgreSQL cluster per run; the log beside it stays


@pytest.fixture(scope="session")
def admin_token(live_recur: Any) -> str:
    """The admin token `recur up` was started with."""
    return str(e2e.ADMIN)


@pytest.fixture(scope="session")
def chromium(chromium_executable: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
