"""What the operator commands need from the environment, said the same way by each of them."""

from __future__ import annotations

import click

from recur.settings import Settings


def database_url() -> str:
    """RECUR_DATABASE_URL, or a usage error (exit 2) that says where a running recur keeps it."""
    settings = Settings.from_env()
    if not settings.database_url:
        raise click.UsageError("RECUR_DATABASE_URL is not set: use the database_url in <data dir>/runtime.json of `recur up`")
    return settings.database_url


def master_key_text() -> str:
    """RECUR_MASTER_KEY, or the key `recur up` keeps in <data dir>/master.key (RECUR_DATA_DIR), or a usage error (exit 2)."""
    from recur.supervisor import MASTER_KEY_FILE

    settings = Settings.from_env()
    if settings.master_key:
        return settings.master_key
    path = settings.data_dir / MASTER_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    raise click.UsageError(f"RECUR_MASTER_KEY is not set and {path} does not exist: this command opens subscribers' data keys")
