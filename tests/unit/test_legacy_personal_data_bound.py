"""Migration 017 finds the last event holding plain personal data with SQL written once, at the upgrade; the queries
made since are built from the domain's list. Both must name the same event types and the same fields, or the bound
would leave plain rows out of reach of erasure and of `recur audit encrypt-legacy`."""

from __future__ import annotations

from importlib import resources

from recur.commands.legacy_personal_data import PLAIN_ROWS, personal_topics
from recur.domain.personal_data import PERSONAL_FIELDS


def migration_017() -> str:
    return resources.files("recur.migrations").joinpath("017_legacy_personal_data.sql").read_text()


def test_migration_017_looks_for_plain_values_in_every_type_and_field_the_domain_calls_personal() -> None:
    sql = migration_017()
    assert all(f"'{topic}'" in sql for topic in personal_topics())
    paths = {path for paths in PERSONAL_FIELDS.values() for path in paths}
    assert all(f"stored -> '{outer}' ->> '{inner}' IS NOT NULL" in sql for outer, inner in paths)
    assert all(f"-> '{outer}' ->> '{inner}' IS NOT NULL" in PLAIN_ROWS for outer, inner in paths)
    assert "-> 'personal_data' IS NULL" in sql and "-> 'personal_data' IS NULL" in PLAIN_ROWS
