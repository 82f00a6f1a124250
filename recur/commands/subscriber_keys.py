"""The data keys of crypto-shredding: one AES-256-GCM key per subscription, sealed under the master key, and the keyed
hash of each subscriber's e-mail that lets an erasure find their subscriptions once the events hold only ciphertext.

Destroying a key is the erasure: the events' ciphertext stays in the hash-chained log, unreadable for good. The rows are
read on every load, never cached: once one process destroys a key, no other may keep decrypting with a copy of it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from recur.commands.legacy_personal_data import plain_emails
from recur.db import Database
from recur.sealing import MasterKey

DATA_KEY_PURPOSE = "subscriber data"
LOOKUP_PURPOSE = "subscriber e-mail lookup"
DATA_KEY_BYTES = 32


class MissingDataKeyError(RuntimeError):
    """An event holds encrypted personal data but its subscription has no key row: the key table was not restored with
    the event table (a backup of one without the other). Never answered with garbage or silent nulls."""


@dataclass(frozen=True)
class DataKey:
    """A subscription's key, or the fact that it was destroyed (`key` None, `erased` True)."""

    key: bytes | None

    @property
    def erased(self) -> bool:
        return self.key is None


def normalized_email(email: str) -> str:
    """One spelling per mailbox for the lookup: surrounding blanks and letter case never matter to a person."""
    return email.strip().lower()


class SubscriberKeys:
    """The `subscriber_keys` and `subscriber_emails` tables, under one master key."""

    def __init__(self, db: Database, master_key: MasterKey) -> None:
        self.db = db
        self.sealer = master_key.sealer(DATA_KEY_PURPOSE)
        self.lookup_key = master_key.derive(LOOKUP_PURPOSE)

    def email_hash(self, email: str) -> str:
        """HMAC-SHA256 of the normalized address: stable for lookups, useless to anyone without the master key."""
        return hmac.new(self.lookup_key, normalized_email(email).encode(), hashlib.sha256).hexdigest()

    def create(self, subscription_id: UUID, producer_id: str | None, email: str | None) -> bytes:
        """A new subscription's key (or the one a retried save already made), and its e-mail's lookup row."""
        candidate = os.urandom(DATA_KEY_BYTES)
        context = _context(subscription_id)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO subscriber_keys (subscription_id, sealed) VALUES (%s, %s) ON CONFLICT (subscription_id) DO NOTHING",
                (str(subscription_id), self.sealer.seal(candidate, context)),
            )
            if email and producer_id:
                cur.execute(
                    "INSERT INTO subscriber_emails (email_hash, subscription_id, producer_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (self.email_hash(email), str(subscription_id), producer_id),
                )
            cur.execute("SELECT sealed FROM subscriber_keys WHERE subscription_id = %s", (str(subscription_id),))
            (sealed,) = cur.fetchone()
        if sealed is None:
            raise MissingDataKeyError(f"subscription {subscription_id} was erased: its personal data cannot be written again")
        return self.sealer.open(bytes(sealed), context)

    def lookup(self, subscription_id: UUID) -> DataKey | None:
        """The subscription's key; None when it never had one (stored before encryption). A key sealed under another
        master key raises MasterKeyError."""
        row = self.db.fetchone("SELECT sealed FROM subscriber_keys WHERE subscription_id = %s", (str(subscription_id),))
        if row is None:
            return None
        sealed = row[0]
        return DataKey(None if sealed is None else self.sealer.open(bytes(sealed), _context(subscription_id)))

    def lookup_many(self, subscription_ids: Iterable[UUID]) -> dict[UUID, DataKey]:
        """`lookup` for several subscriptions with one query (a batch load); those without a key row are left out."""
        wanted = sorted({str(subscription_id) for subscription_id in subscription_ids})
        if not wanted:
            return {}
        rows = self.db.fetchall("SELECT subscription_id, sealed FROM subscriber_keys WHERE subscription_id = ANY(%s::uuid[])",
                                (wanted,))
        found: dict[UUID, DataKey] = {}
        for subscription_id, sealed in rows:
            uid = UUID(str(subscription_id))
            found[uid] = DataKey(None if sealed is None else self.sealer.open(bytes(sealed), _context(uid)))
        return found

    def subscriptions_of(self, email: str, producer_id: str | None) -> list[str]:
        """The subscriptions started with this address (any producer's for None), by id. Those started before encryption
        have no lookup row until `recur audit encrypt-legacy` makes one: they are found by their plain e-mail in the
        stored events (recur.commands.legacy_personal_data), normalized the same way."""
        sql = "SELECT subscription_id::text FROM subscriber_emails WHERE email_hash = %s"
        params: list[Any] = [self.email_hash(email)]
        if producer_id is not None:
            sql += " AND producer_id = %s"
            params.append(producer_id)
        found = {row[0] for row in self.db.fetchall(sql, params)}
        normalized = normalized_email(email)
        found |= {subscription_id for subscription_id, stored in plain_emails(self.db, normalized, producer_id)
                  if normalized_email(stored) == normalized}
        return sorted(found)

    @staticmethod
    def destroy(cur: Any, subscription_ids: Iterable[str], at: datetime) -> None:
        """In the caller's transaction: the keys are gone (a subscription stored before encryption gets a row saying
        so, which hides its old events' plain values on load), and so are the lookup rows."""
        for subscription_id in subscription_ids:
            cur.execute(
                "INSERT INTO subscriber_keys (subscription_id, sealed, destroyed_at) VALUES (%s, NULL, %s) "
                "ON CONFLICT (subscription_id) DO UPDATE SET sealed = NULL, destroyed_at = coalesce(subscriber_keys.destroyed_at, %s)",
                (subscription_id, at, at),
            )
            cur.execute("DELETE FROM subscriber_emails WHERE subscription_id = %s", (subscription_id,))


def _context(subscription_id: UUID | str) -> bytes:
    """A sealed key opens only on its own subscription's row."""
    return f"subscriber data key {subscription_id}".encode()
