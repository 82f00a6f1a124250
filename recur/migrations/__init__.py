"""Versioned SQL migrations for everything outside the event store (read models, sandbox, idempotency).

Why a small folder of numbered .sql files rather than a migration tool: the statements are plain
SQL that reviewers read as is, they need no ORM, and one advisory lock makes concurrent starts of
several processes safe. Each file runs once, in its own transaction, recorded in schema_migrations.
"""
