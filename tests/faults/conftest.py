"""Fault tests: an isolated database and broker, with the relay and consumers as real processes that
the tests kill with SIGKILL and restart, and a load of commands running meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_rig import Rig

from recur.bootstrap import build_services
from recur.settings import Settings


@pytest.fixture
def rig(postgres_server: Any, data_root: Path) -> Iterator[Rig]:
    from recur.commands.event_store import open_event_store
    from recur.db import migrate
    from recur.embedded.broker import start_embedded_broker
    from recur.embedded.postgres import create_database

    url = create_database(postgres_server.url, f"recur_faults_{uuid.uuid4().hex[:8]}")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    data_dir = data_root / f"faults-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    broker = start_embedded_broker(log_path=data_dir / "broker.log")
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import PARTITIONS, PROVISIONED

    ensure_topics(broker.bootstrap_servers, PROVISIONED, PARTITIONS)  # as `recur up` does before starting workers
    from recur.sealing import generate_master_key

    master_key = generate_master_key()
    settings = Settings.from_env({"RECUR_DATABASE_URL": url, "RECUR_SANDBOX": "1", "RECUR_ADMIN_TOKEN": "adm_faults",
                                  "RECUR_MASTER_KEY": master_key})
    services = build_services(settings, url, pool_size=6)
    rig = Rig(url, broker, services, data_dir, master_key)
    yield rig
    rig.stop_all()
    services.close()
    broker.stop()


