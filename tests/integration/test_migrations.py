"""Migrations against a real PostgreSQL: one transaction per file, checksums of applied files, concurrent starts.

Each test migrates a fresh database from a folder of its own (migrate's `folder` parameter), never the
package's real migrations; the last test checks what the real ones recorded in the session database.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from recur.migrations import MigrationChanged, MigrationFailed, migrate


@pytest.fixture
def empty_database(postgres_server: Any) -> str:
    from recur.embedded.postgres import create_database

    return create_database(postgres_server.url, f"recur_migrations_{uuid.uuid4().hex[:10]}")


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def tables(url: str) -> set[str]:
    return {name for (name,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def recorded(url: str) -> dict[str, str | None]:
    """The versions schema_migrations lists, with their checksums (none when the table is missing)."""
    if rows(url, "SELECT to_regclass('schema_migrations')") == [(None,)]:
        return {}
    return dict(rows(url, "SELECT version, checksum FROM schema_migrations"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failing_migration_leaves_the_earlier_files_applied_and_itself_unapplied(empty_database: str, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            "001_plans.sql": "CREATE TABLE plans (id integer PRIMARY KEY);",
            # Its first statement succeeds; the second fails: the whole file must be undone.
            "002_prices.sql": "CREATE TABLE prices (amount bigint NOT NULL);\nINSERT INTO prices (amount) VALUES (NULL);",
            "003_offers.sql": "CREATE TABLE offers (id integer PRIMARY KEY);",
        },
    )

    with pytest.raises((MigrationFailed, psycopg2.Error)):  # which error, and what it says: the next test
        migrate(empty_database, folder)

    assert recorded(empty_database) == {"001_plans": sha256(folder / "001_plans.sql")}
    assert tables(empty_database) == {"schema_migrations", "plans"}  # no prices, and nothing after the failure


def test_a_failing_migration_is_reported_naming_its_file(empty_database: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "migrations", {"001_plans.sql": "CREATE TABLE plans (id integer PRIMARY KEY);",
                                             "002_prices.sql": "CREATE TABLE prices (amount bigint NOT NULL); SELECT 1 / 0;"})

    with pytest.raises(MigrationFailed, match=r"^migration 002_prices\.sql failed and was rolled back: .*division by zero"):
        migrate(empty_database, folder)


def test_the_file_fixed_after_a_failure_is_applied_on_the_next_start(empty_database: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "migrations", {"001_plans.sql": "CREATE TABLE plans (id integer PRIMARY KEY);",
                                             "002_prices.sql": "CREATE TABLE prices (amount bigint NOT NULL); SELECT 1 / 0;"})
    with pytest.raises((MigrationFailed, psycopg2.Error)):
        migrate(empty_database, folder)

    write(folder, {"002_prices.sql": "CREATE TABLE prices (amount bigint NOT NULL);"})
    assert migrate(empty_database, folder) == ["002_prices"]
    assert tables(empty_database) == {"schema_migrations", "plans", "prices"}


def test_an_applied_migration_whose_file_changed_is_refused_naming_the_file(empty_database: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "migrations", {"001_plans.sql": "CREATE TABLE plans (id integer PRIMARY KEY);",
                                             "002_prices.sql": "CREATE TABLE prices (amount bigint);"})
    assert migrate(empty_database, folder) == ["001_plans", "002_prices"]

    write(folder, {"002_prices.sql": "CREATE TABLE prices (amount bigint, currency text);",
                   "003_offers.sql": "CREATE TABLE offers (id integer PRIMARY KEY);"})
    with pytest.raises(MigrationChanged, match=r"migration 002_prices\.sql changed after it was applied"):
        migrate(empty_database, folder)

    assert "offers" not in tables(empty_database)  # refused before anything pending ran
    assert set(recorded(empty_database)) == {"001_plans", "002_prices"}


def test_a_database_migrated_before_checksums_were_kept_gets_them_and_then_refuses_edits(empty_database: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "migrations", {"001_plans.sql": "CREATE TABLE plans (id integer PRIMARY KEY);",
                                             "002_prices.sql": "CREATE TABLE prices (amount bigint);"})
    # What the migrate() of before left behind: its own bookkeeping table, without checksums, and 001 applied.
    conn = psycopg2.connect(empty_database)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        cur.execute((folder / "001_plans.sql").read_text())
        cur.execute("INSERT INTO schema_migrations (version) VALUES ('001_plans')")
    conn.close()

    assert migrate(empty_database, folder) == ["002_prices"]
    assert recorded(empty_database) == {"001_plans": sha256(folder / "001_plans.sql"), "002_prices": sha256(folder / "002_prices.sql")}

    write(folder, {"001_plans.sql": "CREATE TABLE plans (id bigint PRIMARY KEY);"})
    with pytest.raises(MigrationChanged, match=r"001_plans\.sql"):
        migrate(empty_database, folder)


def test_concurrent_starts_apply_each_file_once(empty_database: str, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "migrations",
        {
            # Not idempotent on purpose: a second run of any file fails or leaves a second row.
            # pg_sleep keeps the first file's transaction open while the other starters arrive.
            "001_log.sql": "CREATE TABLE applications (file text NOT NULL); INSERT INTO applications VALUES ('001'); SELECT pg_sleep(0.3);",
            "002_more.sql": "INSERT INTO applications VALUES ('002');",
            "003_table.sql": "CREATE TABLE plans (id integer PRIMARY KEY); INSERT INTO applications VALUES ('003');",
        },
    )
    starters = 4
    start = threading.Barrier(starters)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start_recur() -> None:
        start.wait()
        try:
            applied.append(migrate(empty_database, folder))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start_recur) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(version for run in applied for version in run) == ["001_log", "002_more", "003_table"]
    assert sorted(applied) == [[], [], [], ["001_log", "002_more", "003_table"]]
    assert sorted(rows(empty_database, "SELECT file FROM applications")) == [("001",), ("002",), ("003",)]


def test_the_real_migrations_are_recorded_with_the_checksums_of_their_files(database_url: str) -> None:
    folder = resources.files("recur.migrations")
    files = {f.name.removesuffix(".sql"): hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir() if f.name.endswith(".sql")}

    assert recorded(database_url) == files
    assert migrate(database_url) == []


def test_e_mail_arrives_on_a_database_with_history_knowing_its_subscribers_and_mailing_none_of_the_past(
    empty_database: str, tmp_path: Path
) -> None:
    """An upgrade: the notifier learns who is subscribed from the read models and the producers' names from their
    stored events, and its horizon is the last event stored before e-mail existed."""
    from recur.bootstrap import build_services
    from recur.commands import catalog
    from recur.commands.event_store import open_event_store
    from recur.domain.actor import system_actor
    from recur.settings import Settings

    package = resources.files("recur.migrations")
    before_email = write(tmp_path / "before", {f.name: f.read_text() for f in package.iterdir() if f.name < "009"})
    migrate(empty_database, before_email)
    open_event_store(empty_database, 1, create_table=True).close()
    services = build_services(Settings.from_env({"RECUR_DATABASE_URL": empty_database}), empty_database, pool_size=1)
    try:
        producer, _ = catalog.register_producer(services, "Ana Cursos", "ana@example.com", system_actor())
    finally:
        services.close()
    product_id, plan_id, subscription_id = (str(uuid.uuid4()) for _ in range(3))
    rows(empty_database, f"""
        INSERT INTO rm_products (id, producer_id, name, created_at) VALUES ('{product_id}', '{producer.id}', 'Violão', now());
        INSERT INTO rm_plans (id, producer_id, product_id, name, periodicity, price_amount, currency, created_at)
            VALUES ('{plan_id}', '{producer.id}', '{product_id}', 'Mensal', 'monthly', 4990, 'BRL', now());
        INSERT INTO rm_subscriptions (id, code, producer_id, product_id, plan_id, status, price_amount, currency, periodicity,
            installments, subscriber_name, subscriber_email, subscriber_country, payment_type, payment_brand, payment_last4,
            started_at, updated_at, version)
            VALUES ('{subscription_id}', 'SUB-1', '{producer.id}', '{product_id}', '{plan_id}', 'active', 4990, 'BRL', 'monthly',
            1, 'Bia', 'bia@example.com', 'BR', 'card', 'visa', '4242', now(), now(), 1);
        SELECT 1""")
    (last_stored,) = rows(empty_database, "SELECT max(notification_id) FROM recur_events")[0]

    migrate(empty_database)

    assert rows(empty_database, "SELECT last_notification_id FROM notifier_horizon") == [(last_stored,)]
    names = dict(rows(empty_database, "SELECT id::text, name || coalesce(' <' || email || '>', '') FROM mail_names"))
    assert names == {str(producer.id): "Ana Cursos <ana@example.com>", product_id: "Violão", plan_id: "Mensal"}
    assert rows(empty_database, "SELECT subscription_id::text, email, country, payment_method FROM mail_subscribers") == [
        (subscription_id, "bia@example.com", "BR", {"type": "card", "brand": "visa", "last4": "4242"})
    ]
