"""`recur audit encrypt-legacy`: the one sanctioned rewrite of the event log. Events stored before migration 016 keep
subscribers' personal data in plain; this seals it as the event store's mapper seals every event since
(recur.commands.personal_data_mapper.sealed, same data key, same context bound to subscription and version), or nulls
it for a subscription already erased, then recomputes the hash chain from the first row it changed.

Why it may rewrite what the chain exists to protect: erasure must reach those rows too, and they can only be reached by
changing them. What keeps it honest:

- it refuses to run on a broken chain (a re-chain would launder tampering into a valid-looking history): the whole log
  is verified first, and the events written since are verified again once the writers' lock is held;
- the data keys missing (and the lookup rows of the e-mails) are made first, outside the lock, so writers wait only for
  the rewrite itself (measured: 160,000 events, 40,000 of them to seal, 30,000 subscriptions: see README);
- in one transaction holding the lock every writer of recur_events takes (eventsourcing's saves, and migration 014's
  statement trigger for anyone else), it records a checkpoint of the head before, rewrites, re-chains, records the
  rewrite (audit_rewrites: first changed row, rows changed, head before and after, time, reason), marks the checkpoints
  it superseded, and records a checkpoint after: all of it, or nothing;
- the chain is recomputed with audit_chain.link, the definition `recur audit verify` checks against.

Rows are changed in place: notification ids, aggregates, versions and topics stay; only `state` and `chain_hash` do not.
What the stored JSON holds besides the personal fields is written back as it was read (no upcasting).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Transcoder
from psycopg2.extras import execute_values

from recur.commands.audit_chain import GENESIS, StoredRow, link
from recur.commands.audit_checkpoints import Checkpoint, record_checkpoint_in
from recur.commands.audit_rewrites import Rewrite, record_rewrite
from recur.commands.audit_verify import Verification, verify_chain
from recur.commands.legacy_personal_data import PLAIN_ROWS, clear_bound, personal_topics
from recur.commands.personal_data_mapper import data_key_for, sealed
from recur.commands.subscriber_keys import MissingDataKeyError, SubscriberKeys
from recur.db import Database
from recur.domain.personal_data import personal_paths, present_values, with_values

REASON = "encrypt-legacy: personal data stored before encryption (migration 016) sealed under each subscription's key"
BATCH = 2000
Progress = Callable[[int], None]


class ChainBrokenError(RuntimeError):
    """The chain does not verify: nothing was rewritten."""

    def __init__(self, verification: Verification) -> None:
        super().__init__("the chain breaks")
        self.verification = verification


@dataclass(frozen=True)
class Encryption:
    """What a run did: nothing (no row held plain personal data), or one recorded rewrite."""

    rows_sealed: int
    rows_nulled: int  # rows of erased subscriptions: their personal fields stored null
    subscriptions: int
    before: Checkpoint | None = None
    after: Checkpoint | None = None
    rewrite: Rewrite | None = None


def prepare_keys(db: Database, keys: SubscriberKeys, transcoder: Transcoder, progress: Progress | None = None) -> int:
    """Before the lock: a data key for every subscription with plain personal data that has none, and the lookup row of
    its e-mail (from its SubscriptionStarted). Made here, outside the rewrite's transaction, because writers wait for
    that transaction: the rewrite then only reads keys. Harmless if the rewrite never happens (a key and a lookup row
    are what the subscription would have had from the start); erased subscriptions are left as they are. Returns how
    many subscriptions it went through."""
    seen: set[UUID] = set()
    with db.transaction() as cur:
        for count, (notification_id, subscription_id, _version, topic, state) in enumerate(_plain_rows(cur, "recur_legacy_keys")):
            if progress is not None and count % BATCH == 0:
                progress(notification_id)
            if not topic.endswith(".SubscriptionStarted") and subscription_id in seen:
                continue
            seen.add(subscription_id)
            known = keys.lookup(subscription_id)
            if known is not None and known.erased:
                continue
            with contextlib.suppress(MissingDataKeyError):  # erased meanwhile: the rewrite stores it null
                data_key_for(keys, subscription_id, transcoder.decode(state))
    return len(seen)


def encrypt_legacy(db: Database, keys: SubscriberKeys, transcoder: Transcoder, verified_head: int | None,
                   progress: Progress | None = None) -> Encryption:
    """Seal every event still holding plain personal data and re-chain from the first one changed. `verified_head` is
    the last notification id the caller verified the chain up to (None: an empty log); the events after it are verified
    here, under the lock, before anything changes. `db` needs two connections (the verification reads beside the
    rewrite's transaction)."""
    with db.transaction() as cur:
        cur.execute("LOCK TABLE recur_events IN EXCLUSIVE MODE")
        tail = verify_chain(db, None if verified_head is None else verified_head + 1)
        if not tail.ok:
            raise ChainBrokenError(tail)
        before = record_checkpoint_in(cur)
        rewritten = _rewrite_rows(cur, keys, transcoder)
        if rewritten.first_changed is None:
            return Encryption(0, 0, 0)
        previous = _hash_before(cur, rewritten.first_changed)
        rechained = _rechain(cur, rewritten.first_changed, previous, progress)
        assert before is not None and rechained.head_id == before.notification_id, "the lock keeps the head where it was"
        rewrite = record_rewrite(cur, REASON, rewritten.first_changed, rewritten.sealed + rewritten.nulled, rechained.rows,
                                 rechained.head_id, bytes.fromhex(before.hash), rechained.head_hash)
        after = record_checkpoint_in(cur)
        clear_bound(cur)
    return Encryption(rewritten.sealed, rewritten.nulled, len(rewritten.subscriptions), before, after, rewrite)


@dataclass
class _Rewritten:
    sealed: int = 0
    nulled: int = 0
    subscriptions: set[UUID] = field(default_factory=set)
    first_changed: int | None = None


@dataclass(frozen=True)
class _Rechained:
    rows: int
    head_id: int
    head_hash: bytes


def _rewrite_rows(cur: Any, keys: SubscriberKeys, transcoder: Transcoder) -> _Rewritten:
    """Each row holding plain personal data written again: sealed, or nulled for an erased subscription."""
    done = _Rewritten()
    updates: list[tuple[int, bytes]] = []
    for notification_id, subscription_id, version, topic, state in _plain_rows(cur):
        decoded = transcoder.decode(state)
        values = present_values(decoded, personal_paths(topic.rsplit(".", 1)[-1]))
        if not any(value is not None for value in values.values()):
            continue  # the SQL filter is a superset: a type's own paths decide
        key = _data_key(keys, subscription_id, decoded)
        if key is None:
            rewritten = with_values(decoded, dict.fromkeys(values))
            done.nulled += 1
        else:
            rewritten = sealed(decoded, values, key, subscription_id, version)
            done.sealed += 1
        updates.append((notification_id, transcoder.encode(rewritten)))
        done.subscriptions.add(subscription_id)
        done.first_changed = notification_id if done.first_changed is None else done.first_changed
        if len(updates) == BATCH:
            _write_states(cur, updates)
            updates = []
    _write_states(cur, updates)
    return done


def _plain_rows(cur: Any, name: str = "recur_legacy_rows") -> Iterator[tuple[int, UUID, int, str, bytes]]:
    """The candidates, streamed from a server-side cursor (its snapshot is taken when declared: the rows this run
    writes are never read back)."""
    with contextlib.closing(cur.connection.cursor(name=name)) as rows:
        rows.execute(PLAIN_ROWS, {"topics": personal_topics()})
        while batch := rows.fetchmany(BATCH):
            for notification_id, subscription_id, version, topic, state in batch:
                yield int(notification_id), UUID(str(subscription_id)), int(version), topic, bytes(state)


def _data_key(keys: SubscriberKeys, subscription_id: UUID, state: dict[str, Any]) -> bytes | None:
    """The subscription's data key (prepare_keys made it; made here if it has none still, with its e-mail's lookup row);
    None when it was erased, by id before or by an erasure racing this run."""
    known = keys.lookup(subscription_id)
    if known is not None:
        return known.key
    try:
        return data_key_for(keys, subscription_id, state)
    except MissingDataKeyError:
        return None


def _write_states(cur: Any, updates: list[tuple[int, bytes]]) -> None:
    if updates:
        execute_values(cur, "UPDATE recur_events AS event SET state = given.state FROM (VALUES %s) AS given (id, state) "
                       "WHERE event.notification_id = given.id", updates, template="(%s::bigint, %s::bytea)", page_size=BATCH)


def _hash_before(cur: Any, notification_id: int) -> bytes:
    cur.execute("SELECT chain_hash FROM recur_events WHERE notification_id < %s ORDER BY notification_id DESC LIMIT 1",
                (notification_id,))
    row = cur.fetchone()
    return GENESIS if row is None else bytes(row[0])


def _rechain(cur: Any, first: int, previous: bytes, progress: Progress | None) -> _Rechained:
    """Every chain hash from `first` to the head recomputed."""
    count, head_id = 0, first
    with contextlib.closing(cur.connection.cursor(name="recur_legacy_rechain")) as rows:
        rows.execute("SELECT notification_id, originator_id, originator_version, topic, state FROM recur_events "
                     "WHERE notification_id >= %s ORDER BY notification_id", (first,))
        while batch := rows.fetchmany(BATCH):
            hashes = []
            for notification_id, originator_id, version, topic, state in batch:
                previous = link(previous, StoredRow(int(notification_id), UUID(str(originator_id)), int(version), topic,
                                                    None if state is None else bytes(state)))
                hashes.append((int(notification_id), previous))
            execute_values(cur, "UPDATE recur_events AS event SET chain_hash = given.hash FROM (VALUES %s) AS given (id, hash) "
                           "WHERE event.notification_id = given.id", hashes, template="(%s::bigint, %s::bytea)", page_size=BATCH)
            count, head_id = count + len(batch), hashes[-1][0]
            if progress is not None:
                progress(head_id)
    return _Rechained(count, head_id, previous)
