"""Versioned SQL migrations for everything outside the event store (read models, sandbox, idempotency).

Why a small folder of numbered .sql files rather than a migration tool: the statements are plain
SQL that reviewers read as is, they need no ORM, and one advisory lock makes concurrent starts of
several processes safe.

:func:`migrate` applies the files of a folder (this package's by default) in name order:

- under a session-level advisory lock, held across the whole run, so that of several processes
  starting at once one applies each file and the others find it applied;
- each file in its own transaction, recorded in ``schema_migrations`` in that same transaction: a
  file that fails is rolled back whole and stops the run, and the files before it stay applied;
- with the SHA-256 of each applied file recorded, and a refusal to run (naming the file) when a file
  already applied has changed since: the database no longer matches what the file says. A change
  to the schema goes in a new file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import psycopg2

log = logging.getLogger(__name__)

#: The advisory lock key held while migrating.
MIGRATION_LOCK = 727_001

# The bookkeeping table is created here, not by a migration file. Databases migrated before
# checksums were kept have the table without the column: it is added, then filled in below.
BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text;
"""


class MigrationError(RuntimeError):
    """recur must not run on this database until someone looks: the message names the file."""


class MigrationFailed(MigrationError):
    """A migration file's SQL failed; its transaction was rolled back."""


class MigrationChanged(MigrationError):
    """A migration file already applied to the database has different content now."""


@dataclass(frozen=True)
class Migration:
    version: str  # the file name without .sql, as recorded in schema_migrations
    file_name: str
    sql: str
    checksum: str  # SHA-256 of the file's bytes, hex


def read_migrations(folder: Traversable | str | os.PathLike[str]) -> list[Migration]:
    """The .sql files of `folder`, in name order."""
    root: Traversable = Path(folder) if isinstance(folder, str | os.PathLike) else folder
    migrations = []
    for entry in sorted((e for e in root.iterdir() if e.name.endswith(".sql")), key=lambda e: e.name):
        content = entry.read_bytes()
        migrations.append(
            Migration(entry.name.removesuffix(".sql"), entry.name, content.decode("utf-8"), hashlib.sha256(content).hexdigest())
        )
    return migrations


def migrate(url: str, folder: Traversable | str | os.PathLike[str] | None = None) -> list[str]:
    """Apply the pending migrations of `folder` (default: recur/migrations) in order; returns the versions applied.

    Raises MigrationChanged before applying anything when an applied file was edited, and MigrationFailed
    (after the files before it were applied) when a file's SQL fails.
    """
    migrations = read_migrations(resources.files(__name__) if folder is None else folder)
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            # Session level, unlike a transaction's lock: it must outlast the transaction of each file.
            # Closing the connection releases it, however the run ends.
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        conn.autocommit = False
        pending = _check_applied(conn, migrations)
        return [_apply(conn, migration) for migration in pending]
    finally:
        conn.close()


def _check_applied(conn: Any, migrations: list[Migration]) -> list[Migration]:
    """Refuse edited files, record the checksums a database migrated without them lacks; return what is pending."""
    with conn, conn.cursor() as cur:
        cur.execute(BOOKKEEPING)
        cur.execute("SELECT version, checksum FROM schema_migrations")
        recorded: dict[str, str | None] = dict(cur.fetchall())
        for migration in migrations:
            checksum = recorded.get(migration.version)
            if checksum is not None and checksum != migration.checksum:
                raise MigrationChanged(
                    f"migration {migration.file_name} changed after it was applied to this database "
                    f"(sha256 {checksum[:12]}... when applied, {migration.checksum[:12]}... now): "
                    "restore the file as it was, and put the change in a new migration file"
                )
        # Applied by code that kept no checksums: what the file holds now is taken as what was applied.
        backfill = [(m.checksum, m.version) for m in migrations if m.version in recorded and recorded[m.version] is None]
        if backfill:
            cur.executemany("UPDATE schema_migrations SET checksum = %s WHERE version = %s", backfill)
            log.info("recorded the checksums of %d migration(s) applied before checksums were kept", len(backfill))
    known = {m.version for m in migrations}
    for version in sorted(set(recorded) - known):
        log.warning("migration %s is applied to this database but has no file here", version)
    return [m for m in migrations if m.version not in recorded]


def _apply(conn: Any, migration: Migration) -> str:
    """One file and its schema_migrations row, in one transaction."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute(migration.sql)
            cur.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)", (migration.version, migration.checksum))
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        raise  # the database or the connection failed, not the file
    except psycopg2.Error as error:
        detail = (error.pgerror or str(error)).strip()
        raise MigrationFailed(f"migration {migration.file_name} failed and was rolled back: {detail}") from error
    log.info("applied migration %s", migration.version)
    return migration.version
