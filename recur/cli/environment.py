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
