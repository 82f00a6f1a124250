"""Encryption of personal data at the persistence boundary: the domain, the audit trail and the relay see plain values
while the subscription's data key exists, and nulls once it is destroyed; the stored rows only ever hold ciphertext.

The personal fields of an event (recur.domain.personal_data) are stored null, and their values together in one extra
field, `personal_data`: base64 of nonce | AES-GCM ciphertext of their JSON, bound to the event's subscription and
version (copied onto another event it does not open). Everything else stays readable JSON, so the hash chain covers
the ciphertext and the stored row never changes: erasure destroys only the key.

Events stored before this (plain personal values, no `personal_data` field) load as they are; once their subscription
is erased (its key row says destroyed), their plain values are hidden on load too. Their stored rows keep them until
`recur audit encrypt-legacy` (recur.commands.legacy_encryption) rewrites them with `sealed` below: see README, "Events
stored before encryption".
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from recur.commands.subscriber_keys import DataKey, MissingDataKeyError, SubscriberKeys
from recur.domain.personal_data import personal_paths, present_values, with_values
from recur.sealing import MasterKey

SEALED_FIELD = "personal_data"
NONCE_BYTES = 12


class PersonalDataMapper(Mapper[UUID]):
    """eventsourcing's Mapper, with the personal fields sealed on the way in and opened (or nulled) on the way out."""

    def __init__(self, transcoder: Transcoder, keys: SubscriberKeys | None) -> None:
        super().__init__(transcoder)
        self.keys = keys

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = vars(domain_event)
        values = present_values(state, personal_paths(type(domain_event).__name__))
        if not values:
            return super().to_stored_event(domain_event)
        subscription_id = state["originator_id"]
        data_key = data_key_for(self._require_keys(), subscription_id, state)
        sealed_state = sealed(state, values, data_key, subscription_id, state["originator_version"])
        sealed_event = object.__new__(type(domain_event))
        object.__setattr__(sealed_event, "__dict__", sealed_state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event, sealed = self._decoded(stored_event)
        if not self._needs_key(domain_event, sealed):
            return domain_event  # no personal data, or plain values stored before encryption read without the key
        known = self._require_keys().lookup(vars(domain_event)["originator_id"])
        return self._opened(domain_event, sealed, known, stored_event.originator_version)

    def to_domain_events(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        """`to_domain_event` for several events, their subscriptions' data keys read with one query rather than one
        per event: a batch load of 500 subscriptions otherwise pays 500 round trips for the keys alone."""
        decoded = [self._decoded(stored_event) for stored_event in stored_events]
        wanted = {vars(event)["originator_id"] for event, sealed in decoded if self._needs_key(event, sealed)}
        if not wanted:
            return [event for event, _ in decoded]
        keys = self._require_keys().lookup_many(wanted)
        return [
            self._opened(event, sealed, keys.get(vars(event)["originator_id"]), stored.originator_version)
            if self._needs_key(event, sealed) else event
            for (event, sealed), stored in zip(decoded, stored_events, strict=True)
        ]

    def _decoded(self, stored_event: StoredEvent) -> tuple[Any, str | None]:
        """The event as stored (personal fields still null when sealed), and its sealed personal data if any."""
        domain_event = super().to_domain_event(stored_event)
        sealed: str | None = vars(domain_event).pop(SEALED_FIELD, None)
        return domain_event, sealed

    def _needs_key(self, domain_event: Any, sealed: str | None) -> bool:
        """Whether opening (or hiding) the event's personal data needs its subscription's key row."""
        return bool(personal_paths(type(domain_event).__name__)) and (sealed is not None or self.keys is not None)

    @staticmethod
    def _opened(domain_event: Any, sealed: str | None, known: DataKey | None, version: int) -> Any:
        """The event with its personal values opened, or nulled when its subscription was erased."""
        state = vars(domain_event)
        paths = personal_paths(type(domain_event).__name__)
        subscription_id = state["originator_id"]
        if known is not None and known.erased:
            state.update(with_values(state, dict.fromkeys(present_values(state, paths))))
        elif sealed is not None:
            if known is None:
                raise MissingDataKeyError(f"the event {subscription_id} v{version} holds encrypted personal data, but its "
                                          "subscription has no data key: restore subscriber_keys with the event table")
            assert known.key is not None
            state.update(with_values(state, _open(known.key, sealed, _context(subscription_id, version))))
        return domain_event

    def _require_keys(self) -> SubscriberKeys:
        if self.keys is None:
            MasterKey.from_setting(None)  # raises MasterKeyError naming RECUR_MASTER_KEY
        assert self.keys is not None
        return self.keys


def data_key_for(keys: SubscriberKeys, subscription_id: UUID, state: dict[str, Any]) -> bytes:
    """The key an event's personal data is sealed with. A SubscriptionStarted makes it, with its e-mail's lookup row; a
    later event uses it (made now for a subscription stored before encryption). Once erased, MissingDataKeyError."""
    if "subscriber" in state:
        return keys.create(subscription_id, state.get("producer_id"), state["subscriber"].get("email"))
    known = keys.lookup(subscription_id)
    data_key = keys.create(subscription_id, None, None) if known is None else known.key
    if data_key is None:
        raise MissingDataKeyError(f"subscription {subscription_id} was erased: its personal data cannot be written again")
    return data_key


def sealed(state: dict[str, Any], values: dict[str, Any], data_key: bytes, subscription_id: UUID, version: int) -> dict[str, Any]:
    """The event's state as stored: its personal fields null, their `values` sealed together in SEALED_FIELD, bound to
    the subscription and version. Also what `recur audit encrypt-legacy` writes over a row stored before encryption."""
    stored = with_values(state, dict.fromkeys(values))
    stored[SEALED_FIELD] = _seal(data_key, values, _context(subscription_id, version))
    return stored


def _context(subscription_id: UUID, version: int) -> bytes:
    return f"subscription {subscription_id} v{version}".encode()


def _seal(data_key: bytes, values: dict[str, Any], context: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, json.dumps(values, separators=(",", ":")).encode(), context)
    return base64.b64encode(nonce + ciphertext).decode("ascii")


def _open(data_key: bytes, sealed: str, context: bytes) -> dict[str, Any]:
    raw = base64.b64decode(sealed)
    try:
        plain = AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
    except InvalidTag:
        raise MissingDataKeyError(f"encrypted personal data does not open ({context.decode()}): altered, or moved from "
                                  "the event it was sealed for") from None
    opened: dict[str, Any] = json.loads(plain)
    return opened
