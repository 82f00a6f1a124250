"""`recur projections retry-dead`: after a fix, handle the quarantined events again, in order.

Dead letters come in chains: one aggregate's failed event and the events held behind it, for one
projection (or for the relay). A chain is retried as a whole, in version order, and stops at the first
event that still fails; everything before it is applied (or published) and marked resolved, everything
from it on stays quarantined with the new error. That keeps each aggregate's events in order, which is
what makes the live read models equal a rebuild once every chain is resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from kafka import KafkaProducer

from recur.commands.event_store import RecurEvents
from recur.consumers import dead_letters
from recur.consumers.dead_letters import RELAY, DeadLetter
from recur.contract.encoding import EventEncoder, producer_lookup
from recur.db import Database, is_transient
from recur.projections.base import Projection, apply_held, lock_aggregate

log = logging.getLogger(__name__)


@dataclass
class RetryReport:
    resolved: list[DeadLetter] = field(default_factory=list)
    still_failing: list[DeadLetter] = field(default_factory=list)

    @property
    def all_applied(self) -> bool:
        return not self.still_failing

    def summary(self) -> str:
        total = len(self.resolved) + len(self.still_failing)
        if not total:
            return "no unresolved dead letters to retry"
        return f"retried {total} dead letter(s): {len(self.resolved)} applied and resolved, {len(self.still_failing)} still failing"


@dataclass(frozen=True)
class Chain:
    owner: str  # a projection's name, or `relay`
    aggregate_id: str


class RelayRepublisher:
    """Publishes the relay's held events (re-read from the event store and encoded anew, with the fixed code)."""

    def __init__(self, events: RecurEvents, bootstrap_servers: str) -> None:
        self.events = events
        self.encoder = EventEncoder(events.mapper, producer_lookup(events.recorder, events.mapper))
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, client_id="recur-retry-dead", acks="all",
                                      max_in_flight_requests_per_connection=1, allow_auto_create_topics=False, max_block_ms=10000)

    def retry(self, db: Database, aggregate_id: str) -> None:
        with db.transaction() as cur:
            letters = dead_letters.chain(cur, RELAY, aggregate_id)  # locked: a concurrent retry waits
            sent = []
            for letter in letters:
                assert letter.notification_id is not None
                found = self.events.recorder.select_notifications(letter.notification_id, 1)
                try:
                    if not found or found[0].id != letter.notification_id:
                        raise LookupError(f"notification {letter.notification_id} is not in the event store")
                    public = self.encoder.encode(found[0])
                except Exception as error:
                    if is_transient(error):
                        raise
                    dead_letters.failed_again(cur, letter.id, error)
                    break
                sent.append((letter, self.producer.send(public.topic, key=public.key, value=public.value, headers=public.headers)))
            self.producer.flush(timeout=30)
            for letter, future in sent:
                metadata = future.get(timeout=30)
                cur.execute(
                    "INSERT INTO relay_partitions (topic, partition, last_notification_id) VALUES (%s, %s, %s) ON CONFLICT "
                    "(topic, partition) DO UPDATE SET last_notification_id = greatest(relay_partitions.last_notification_id, "
                    "EXCLUDED.last_notification_id)",
                    (metadata.topic, metadata.partition, letter.notification_id),
                )
            # Resolved only after the broker acknowledged: until then the live relay keeps holding this aggregate.
            dead_letters.resolve(cur, [letter.id for letter, _ in sent])

    def close(self) -> None:
        self.producer.close(timeout=5)


def retry_dead(
    db: Database,
    projections: Mapping[str, Projection],
    owner: str | None = None,
    dead_letter_id: int | None = None,
    relay: RelayRepublisher | None = None,
) -> RetryReport:
    """Retry the chains of the unresolved dead letters chosen (all; one projection's or the relay's; the one
    dead letter `dead_letter_id` and what it holds back)."""
    chosen = dead_letters.unresolved(db, owner, dead_letter_id)
    chains = list(dict.fromkeys(Chain(d.owner, d.aggregate_id) for d in chosen if d.aggregate_id is not None))
    keys, chosen_ids = set(chains), {d.id for d in chosen}
    before = {d.id: d for d in dead_letters.unresolved(db) if d.id in chosen_ids or Chain(d.owner, d.aggregate_id or "") in keys}
    for c in chains:
        if c.owner == RELAY:
            if relay is not None:
                relay.retry(db, c.aggregate_id)
        elif c.owner in projections:
            _retry_projection(db, projections[c.owner], c.aggregate_id)
    after = {d.id: d for d in dead_letters.unresolved(db) if d.id in before}
    # A message that is not a recur event (no aggregate) has nothing to apply: it stays, reported as failing.
    return RetryReport(resolved=[d for i, d in before.items() if i not in after], still_failing=list(after.values()))


def _retry_projection(db: Database, projection: Projection, aggregate_id: str) -> None:
    with db.transaction() as cur:
        lock_aggregate(cur, projection, aggregate_id)
        letters = dead_letters.chain(cur, projection.name, aggregate_id)
        if not letters:
            return
        result = apply_held(cur, projection, aggregate_id, [d.event for d in letters])
        applied = set(result.applied)
        dead_letters.resolve(cur, [d.id for d in letters if d.version in applied])
        if result.failed_version is not None and result.error is not None:
            failing = next(d for d in letters if d.version == result.failed_version)
            dead_letters.failed_again(cur, failing.id, result.error)
            log.warning("%s: %s version %d still fails: %s", projection.name, aggregate_id, result.failed_version, result.error)
