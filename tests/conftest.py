"""Session-wide real infrastructure: one embedded PostgreSQL server and one embedded broker.

Nothing here is a mock: tests talk to the same PostgreSQL and Kafka-protocol broker that
`recur up` starts. Each test session gets a fresh database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".pytest-data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    DATA.mkdir(exist_ok=True)
    return DATA


@pytest.fixture(scope="session")
def postgres_server(data_root: Path) -> Iterator[object]:
    from recur.embedded.postgres import start_embedded_postgres

    # One server per test session: concurrent sessions never stop each other's server.
    pgdata = data_root / f"pg-{os.getpid()}"
    server = start_embedded_postgres(pgdata)
    yield server
    server.stop()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server: object) -> str:
    from recur.db import migrate
    from recur.embedded.postgres import create_database

    name = f"recur_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(postgres_server.url, name)  # type: ignore[attr-defined]
    migrate(url)
    from recur.commands.event_store import open_event_store

    open_event_store(url, 1, create_table=True).close()
    return url


@pytest.fixture(scope="session")
def broker() -> Iterator[object]:
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import PARTITIONS, PROVISIONED
    from recur.embedded.broker import start_embedded_broker

    b = start_embedded_broker(log_path=DATA / "broker.log")
    ensure_topics(b.bootstrap_servers, PROVISIONED, PARTITIONS)
    yield b
    b.stop()
