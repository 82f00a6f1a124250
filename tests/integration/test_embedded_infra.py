"""Integration tests for recur.embedded against the REAL servers (no mocks).

Why these exist: every other integration/e2e test builds on these helpers, and the failure
modes they guard against (root-owned paths unreadable by the ``embedded_postgres`` user, a
server that outlives ``stop()``, a broker that keeps data across ``restart()``) only show
up with real processes.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg2
import pytest

from recur.consumers.topic_admin import ensure_topics, topic_end_offsets, topic_partitions
from recur.embedded.broker import EmbeddedBroker, start_embedded_broker
from recur.embedded.postgres import (
    EmbeddedPostgres,
    create_database,
    start_embedded_postgres,
    stop_embedded_postgres,
)

# kafka-python 3.0 loads its protocol schemas with deprecated importlib.resources calls when
# ``kafka`` is first imported; kafka is therefore imported inside the tests, where this applies.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files\\(\\) instead:DeprecationWarning")

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = REPO_ROOT / ".pytest-data"


@pytest.fixture
def repo_pgdata() -> Iterator[Path]:
    """A fresh PGDATA path under the repo (not /tmp), removed afterwards.

    The parent dirs are root-owned; the server runs as ``embedded_postgres`` and must still
    be able to traverse them.
    """
    base = DATA_ROOT / f"pg-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    base.chmod(0o700)  # deliberately not traversable by the server user until fixed up
    pgdata = base / "pg"
    try:
        yield pgdata
    finally:
        stop_embedded_postgres(pgdata)
        shutil.rmtree(base, ignore_errors=True)


def _select(url: str, query: str) -> list[tuple[object, ...]]:
    """Run one query in autocommit mode and return all rows."""
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _assert_stopped(pg: EmbeddedPostgres) -> None:
    """The postmaster is gone (or a reaped-later zombie) and released its pid file."""
    assert not pg.is_running()
    if psutil.pid_exists(pg.pid):
        assert psutil.Process(pg.pid).status() == psutil.STATUS_ZOMBIE
    assert not (pg.pgdata / "postmaster.pid").exists()


def test_postgres_lifecycle_under_repo(repo_pgdata: Path) -> None:
    """Start, reuse, tune, create a database, and keep data across stop/start."""
    pg = start_embedded_postgres(repo_pgdata)
    assert pg.url.startswith("postgresql://postgres@/postgres?host=")
    assert _select(pg.url, "SELECT 1") == [(1,)]
    assert _select(pg.url, "SHOW max_connections") == [("300",)]
    assert _select(pg.url, "SHOW fsync") == [("on",)]

    # A second start on the same PGDATA attaches to the running server.
    again = start_embedded_postgres(repo_pgdata)
    assert again.pid == pg.pid
    assert again.url == pg.url

    app_url = create_database(pg.url, "recur_app")
    assert create_database(pg.url, "recur_app") == app_url  # idempotent
    assert "/recur_app?" in app_url
    assert _select(app_url, "SELECT current_database()") == [("recur_app",)]
    _select(app_url, "CREATE TABLE kept (id int PRIMARY KEY, note text)")
    _select(app_url, "INSERT INTO kept VALUES (1, 'survives restart')")

    pg.stop()
    _assert_stopped(pg)
    pg.stop()  # idempotent

    restarted = start_embedded_postgres(repo_pgdata)
    assert restarted.pid != pg.pid
    assert _select(restarted.url_for("recur_app"), "SELECT id, note FROM kept") == [(1, "survives restart")]
    conf = (repo_pgdata / "postgresql.conf").read_text()
    assert conf.count("recur dev tuning") == 1  # appended once, not on every start

    assert stop_embedded_postgres(repo_pgdata) is True
    assert not restarted.is_running()
    assert stop_embedded_postgres(repo_pgdata) is False


def test_postgres_works_with_psycopg3(repo_pgdata: Path) -> None:
    """The URL format is also accepted by psycopg 3 (used elsewhere in recur)."""
    psycopg = pytest.importorskip("psycopg")
    pg = start_embedded_postgres(repo_pgdata)
    try:
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pg.stop()


def test_postgres_under_tmp(tmp_path: Path) -> None:
    """pytest's /tmp/pytest-of-root/... is 0700 root; the server user must still get in."""
    pgdata = tmp_path / "pg"
    pg = start_embedded_postgres(pgdata)
    try:
        assert _select(pg.url, "SELECT 1") == [(1,)]
    finally:
        pg.stop()
    _assert_stopped(pg)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A real Tansu broker on a free loopback port, logging to the test's tmp dir."""
    b = start_embedded_broker(log_path=tmp_path / "tansu.log")
    try:
        yield b
    finally:
        b.stop()
        assert b.process is not None
        assert b.process.returncode is not None  # reaped, not a zombie


def test_broker_topics_roundtrip_and_restart(broker: EmbeddedBroker) -> None:
    """Topics get 6 partitions, a keyed record round-trips, and restart() comes back empty."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.serializer import DefaultSerializer

    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    names = ["recur.test.a", "recur.test.b", "recur.test.c"]

    assert ensure_topics(broker.bootstrap_servers, names) == names
    assert ensure_topics(broker.bootstrap_servers, names) == []  # already there
    for name in names:
        assert topic_partitions(broker.bootstrap_servers, name) == 6

    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap_servers,
        key_serializer=DefaultSerializer(),
        value_serializer=DefaultSerializer(),
    )
    try:
        meta = producer.send(names[0], key="acct-42", value="hello").get(timeout=10)
    finally:
        producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        key_deserializer=DefaultSerializer(),
        value_deserializer=DefaultSerializer(),
    )
    try:
        assert consumer.partitions_for_topic(names[0]) == set(range(6))
        tp = TopicPartition(names[0], meta.partition)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        records = []
        deadline = time.monotonic() + 10
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close()
    assert [(r.key, r.value, r.offset) for r in records] == [("acct-42", "hello", meta.offset)]

    offsets = topic_end_offsets(broker.bootstrap_servers, names)
    assert len(offsets) == 18
    assert offsets[(names[0], meta.partition)] == meta.offset + 1
    assert sum(offsets.values()) == meta.offset + 1

    old_pid = broker.pid
    port = broker.port
    broker.restart()
    assert broker.port == port
    assert broker.pid != old_pid
    assert not psutil.pid_exists(old_pid or -1)
    assert ensure_topics(broker.bootstrap_servers, names) == names  # memory storage: empty again
