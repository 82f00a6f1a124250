"""Publishing recorded checkpoints from a command line (`recur audit checkpoint`, `recur audit encrypt-legacy`): what the
broker does not take stays recorded, and the scheduler publishes it later."""

from __future__ import annotations

import click

from recur.commands.audit_checkpoints import unpublished_count
from recur.db import Database
from recur.settings import Settings


def publish_checkpoints(db: Database, without_broker: str) -> bool:
    """Every recorded checkpoint not yet on recur.audit.v1 sent there; False, with the reason on stderr, when some stay
    unpublished. `without_broker` says what that means for the caller when no broker is configured."""
    settings = Settings.from_env()
    if not settings.kafka_bootstrap_servers:
        click.echo(f"RECUR_KAFKA_BOOTSTRAP_SERVERS is not set: {without_broker}", err=True)
        return False
    from recur.consumers.audit_topic import AuditTopic

    topic = AuditTopic(db, settings.kafka_bootstrap_servers)
    try:
        topic.publish_pending()
    finally:
        topic.close()
    if unpublished_count(db):
        click.echo("the broker did not take every checkpoint: they stay recorded, and the scheduler publishes them later", err=True)
        return False
    return True
