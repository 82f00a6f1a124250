"""Erasure of a subscriber's personal data (LGPD/GDPR), by crypto-shredding: the data keys of their subscriptions are
destroyed, so the encrypted personal fields of every stored event stay in the hash-chained log but never open again,
and a `SubscriberErased` event on each subscription tells the read models, the notifier, the webhooks and downstream
consumers to forget what they kept.

Steps, each safe to repeat after a crash: (1) the keys are destroyed, so from then on no process reads the personal
data, (2) each subscription records SubscriberErased (a no-op when already recorded), (3) the e-mail's lookup rows
go, with the erasure recorded. Until (3) a repeated request finds the same subscriptions and finishes the job.
Dead letters (events kept whole outside the event flow) are scrubbed here directly. Idempotent replies are left: they
are sealed under the client's Idempotency-Key, which recur never stores, and expire within 24 hours.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.commands.services import Services
from recur.commands.subscriber_keys import SubscriberKeys
from recur.commands.subscriptions import mutate
from recur.domain.actor import Actor
from recur.domain.personal_data import personal_paths, present_values, with_values
from recur.sealing import MasterKey


@dataclass(frozen=True)
class Erasure:
    id: str
    email_hash: str
    subscriptions: list[str]
    erased_at: datetime


def erase_subscriber(services: Services, email: str, producer_id: str | None, actor: Actor) -> Erasure:
    """Erase the person with this e-mail from the subscriptions of `producer_id` (every producer's for an admin)."""
    keys = _keys(services)
    found = keys.subscriptions_of(email, producer_id)
    erased_at = services.clock.now()
    with services.db.transaction() as cur:
        SubscriberKeys.destroy(cur, found, erased_at)
    for subscription_id in found:
        mutate(services, subscription_id, None, lambda sub: sub.erase_subscriber(erased_at, actor))
    erasure = Erasure(str(uuid.uuid4()), keys.email_hash(email), found, erased_at)
    with services.db.transaction() as cur:
        for subscription_id in found:
            cur.execute("DELETE FROM subscriber_emails WHERE subscription_id = %s", (subscription_id,))
            _scrub_dead_letters(cur, subscription_id)
        cur.execute(
            "INSERT INTO erasures (id, email_hash, subscription_ids, producer_id, actor, erased_at) "
            "VALUES (%s, %s, %s::uuid[], %s, %s, %s)",
            (erasure.id, erasure.email_hash, found, producer_id, json.dumps(dict(actor)), erased_at),
        )
    return erasure


def _keys(services: Services) -> SubscriberKeys:
    keys = services.events.keys
    if keys is None:
        MasterKey.from_setting(None)  # raises MasterKeyError naming RECUR_MASTER_KEY
    assert keys is not None
    return keys


def _scrub_dead_letters(cur: Any, subscription_id: str) -> None:
    """A quarantined event of this subscription keeps its place and error, with its personal fields null."""
    cur.execute("SELECT id, event FROM dead_letters WHERE aggregate_id = %s", (subscription_id,))
    for dead_letter_id, text in cur.fetchall():
        try:
            event = json.loads(text)
            data = event["data"]
            name = str(event.get("type", "")).rsplit(".", 1)[-1]
        except (ValueError, KeyError, TypeError):
            cur.execute("UPDATE dead_letters SET event = '{}' WHERE id = %s", (dead_letter_id,))
            continue
        if isinstance(data, dict) and personal_paths(name):
            event["data"] = with_values(data, dict.fromkeys(present_values(data, personal_paths(name))))
            cur.execute("UPDATE dead_letters SET event = %s WHERE id = %s", (json.dumps(event), dead_letter_id))


def erasure_by_id(services: Services, erasure_id: str, producer_id: str | None) -> Erasure | None:
    """An erasure as it was answered; a producer sees only the ones it asked for (None for any other)."""
    try:
        uuid.UUID(erasure_id)
    except ValueError:
        return None
    row = services.db.fetchone(
        "SELECT id::text, email_hash, subscription_ids::text[], erased_at, producer_id::text FROM erasures WHERE id = %s",
        (erasure_id,),
    )
    if row is None or (producer_id is not None and row[4] != producer_id):
        return None
    return Erasure(row[0], row[1], list(row[2]), row[3])
