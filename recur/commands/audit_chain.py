"""The event log's hash chain, defined once: the SQL the database computes it with as events are written, and
the same computation in Python, with which auditors recompute it (`recur audit verify`).

Each row of `recur_events` carries `chain_hash`:

    chain_hash(n) = SHA-256( chain_hash(previous row)       32 bytes; 32 zero bytes (GENESIS) for the first row
                             || notification_id             8 bytes, signed big-endian (PostgreSQL int8send)
                             || originator_id               16 bytes, the UUID's bytes (uuid_send)
                             || originator_version          8 bytes, signed big-endian
                             || len(topic) || topic         4-byte signed big-endian length of the UTF-8 bytes, then them
                             || len(state) || state )       4-byte length, then the stored bytes as they are

where "previous row" is the row with the greatest notification id below n (a save that failed leaves a gap in
the ids: gaps are not breaks), and a NULL topic or state is written as the length -1 with no bytes. The lengths
keep field boundaries unambiguous; the notification id and the previous hash pin each row to its place in the
log, so an edited, deleted, inserted or moved row breaks the chain at that place.

Why the database computes it (a BEFORE INSERT trigger, migration 014) rather than the application: every
writer then chains its rows, and the chain follows the notification order that eventsourcing's table lock
already fixes. Why verification recomputes in Python and never calls the database's function: an auditor
must not trust code that someone able to rewrite the table could have replaced as well.

A test checks that migration 014 holds LINK_FUNCTION byte for byte, and that both computations agree.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from uuid import UUID

GENESIS = bytes(32)

#: The SQL function the trigger and the back-fill of migration 014 call, exactly as that file holds it.
LINK_FUNCTION = """\
CREATE FUNCTION recur_audit_link(previous bytea, notification_id bigint, originator_id uuid, originator_version bigint,
                                 topic text, state bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(
        previous
        || int8send(notification_id)
        || uuid_send(originator_id)
        || int8send(originator_version)
        || CASE WHEN topic IS NULL THEN int4send(-1)
                ELSE int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8') END
        || CASE WHEN state IS NULL THEN int4send(-1) ELSE int4send(octet_length(state)) || state END
    )
$$;
"""

_NULL_LENGTH = struct.pack(">i", -1)


@dataclass(frozen=True)
class StoredRow:
    """One row of recur_events as stored: what the chain covers, and the hash recorded beside it."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str | None
    state: bytes | None
    chain_hash: bytes | None = None


def link(previous: bytes, row: StoredRow) -> bytes:
    """The chain hash of `row`, given the chain hash of the row before it (GENESIS for the first)."""
    digest = hashlib.sha256(previous)
    digest.update(struct.pack(">q", row.notification_id))
    digest.update(row.originator_id.bytes)
    digest.update(struct.pack(">q", row.originator_version))
    digest.update(_with_length(None if row.topic is None else row.topic.encode("utf-8")))
    digest.update(_with_length(row.state))
    return digest.digest()


def _with_length(value: bytes | None) -> bytes:
    return _NULL_LENGTH if value is None else struct.pack(">i", len(value)) + value
