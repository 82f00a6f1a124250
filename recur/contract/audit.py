"""The message of topic recur.audit.v1: a checkpoint of the event log's hash chain (recur.commands.audit_checkpoints).

Declared here, beside the events' schemas, so that what is published, what `recur audit verify --checkpoint` reads
back and what docs/asyncapi.yaml documents are one declaration.
"""

from __future__ import annotations

from recur.contract.fields import PublicSchema, instant, integer, text

HASH_PATTERN = "^[0-9a-f]{64}$"
# Every checkpoint is published with this key: they stay in order on one partition.
KEY = "recur.audit"


class AuditCheckpoint(PublicSchema):
    """The head of recur's event-log hash chain at a moment: the chain hash recorded at a notification id.

    Keep the checkpoints you read: `recur audit verify --checkpoint '<this message>'` recomputes the chain from the
    first event and proves that the history up to `notification_id` is still the one this message was taken from.
    The chain is defined in recur/commands/audit_chain.py and in the README's "Audit" section."""

    notification_id = integer("The position in recur's event log (the notification id of the head event).", minimum=1,
                              maximum=2**63 - 1)
    hash = text("The chain hash at `notification_id`: SHA-256, 64 lowercase hexadecimal digits.", pattern=HASH_PATTERN)
    at = instant("When the checkpoint was recorded (the database's clock, UTC).")
