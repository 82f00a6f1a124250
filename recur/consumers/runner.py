"""The consumer runner: a Kafka consumer group feeding projection handlers.

Each polled batch is applied to every projection in one database transaction (rows, versions and
positions together); the Kafka offsets are committed only after that commit. A crash in between
replays the batch, and the version guard drops what was already applied.

A batch that fails for a reason other than the database being unavailable is rolled back and applied
again event by event (base.apply_events with isolate): the events that fail, and the later events of
their aggregates, become dead letters for that projection, and everything else is applied. Transient
errors (connection lost, timeouts) keep the old behaviour: rejoin and try the same batch again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg2
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import KafkaError

from recur.consumers import dead_letters
from recur.consumers.dead_letter_topic import DeadLetterTopic
from recur.consumers.dead_letters import Malformed
from recur.consumers.envelope import MalformedEventError, read_event
from recur.db import Database, is_transient, storable_text
from recur.projections.base import Delivery, Projection, Setback, apply_events

log = logging.getLogger(__name__)
GROUP_ID = "recur-projections"
UNOWNED_FOR = 10.0  # seconds partitions behind the relay may stay unconsumed by anyone before a member rejoins to fix it


def make_consumer(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # This broker lets a group join after about half the session timeout: keep it short.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1500,
        max_poll_records=1000,
        fetch_max_wait_ms=100,
        # Partitions added to a topic (the relay recreating topics that a broker restarted empty auto-created with
        # too few) are seen within seconds rather than the default five minutes: a changed partition count makes
        # the group rebalance, and the new partitions are consumed. Found with two consumer groups asking for the
        # topics right after a broker restart: both got 4 of 6 partitions and waited.
        metadata_max_age_ms=5000,
        allow_auto_create_topics=False,
    )
    consumer.subscribe(list(topics), listener=LogAssignments())
    return consumer


class LogAssignments(ConsumerRebalanceListener):
    """Say which partitions this process owns: operators read it when consumers are scaled out."""

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        names = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        log.info("consumer: assigned %d partitions: %s", len(names), ", ".join(names))


class ConsumerRunner:
    def __init__(
        self, db: Database, bootstrap_servers: str, projections: Sequence[Projection], group_id: str = GROUP_ID
    ) -> None:
        self.db = db
        self.projections = list(projections)
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = sorted({t for p in self.projections for t in p.topics})
        self.consumer = make_consumer(bootstrap_servers, group_id, self.topics)
        self.dead_letter_topic = DeadLetterTopic(db, bootstrap_servers)

    def poll_once(self, timeout_ms: int = 500) -> int:
        records = self.consumer.poll(timeout_ms=timeout_ms)
        if not records:
            return 0
        batch: list[Delivery] = []
        malformed: list[Malformed] = []
        for tp, messages in records.items():
            for message in messages:
                try:
                    batch.append((tp.topic, tp.partition, read_event(message.value)))
                except MalformedEventError as error:
                    malformed.append(Malformed(tp.topic, tp.partition, message.offset, message.value or b"", error))
        try:
            setbacks = self._apply(batch, malformed, isolate=False)
        except Exception as error:
            if is_transient(error):
                raise
            log.warning("consumer: a batch of %d events failed (%s: %s); applying it event by event to quarantine the cause",
                        len(batch), type(error).__name__, storable_text(str(error).strip())[:200])
            setbacks = self._apply(batch, malformed, isolate=True)
        self.consumer.commit()
        if setbacks or malformed:
            self._report(setbacks, malformed)
        return len(batch) + len(malformed)

    def _apply(self, batch: list[Delivery], malformed: list[Malformed], isolate: bool) -> list[Setback]:
        """Apply to every projection and record the dead letters, in one transaction."""
        with self.db.transaction() as cur:
            setbacks = [s for p in self.projections for s in apply_events(cur, p, batch, isolate=isolate).setbacks]
            dead_letters.record_setbacks(cur, self.group_id, setbacks)
            dead_letters.record_malformed(cur, self.group_id, malformed)
        return setbacks

    def _report(self, setbacks: list[Setback], malformed: list[Malformed]) -> None:
        for s in setbacks:
            if not s.held:
                log.error("consumer: %s could not apply %s version %d of %s (%s: %s): quarantined as a dead letter; its "
                          "later events wait for `recur projections retry-dead`", s.projection, s.event.get("type"),
                          s.event["version"], s.event["aggregate_id"], type(s.error).__name__,
                          storable_text(str(s.error).strip())[:200])
        held = sum(1 for s in setbacks if s.held)
        if held:
            log.warning("consumer: %d event(s) held behind dead letters of their aggregates", held)
        for m in malformed:
            log.error("consumer: %s[%d] offset %d is not a recur event (%s): quarantined", m.topic, m.partition, m.offset, m.error)
        self.dead_letter_topic.publish_pending()

    def wait_for_assignment(self, stop: Callable[[], bool]) -> None:
        """Poll (applying whatever arrives) until the group gave us partitions."""
        while not stop() and not self.consumer.assignment():
            self.poll_once(timeout_ms=200)

    def rejoin(self) -> None:
        """Start over from the group's committed offsets: what was polled but not committed comes again
        (and the version guard drops whatever of it was applied)."""
        try:
            self.consumer.close(autocommit=False)
        except Exception:  # noqa: BLE001 - the old consumer may be unusable; a new one replaces it
            log.debug("closing the old consumer failed", exc_info=True)
        self.consumer = make_consumer(self.bootstrap_servers, self.group_id, self.topics)

    def behind_on_assigned_partitions(self) -> bool:
        """Whether the relay published, to a partition we own, events our projections have not applied.

        Each projection is compared only on the topics it reads: one that does not read a topic never
        advances on it, and counting it would make an idle consumer look stuck (it would leave and rejoin
        its group every few seconds, seconds of latency for the next event).
        """
        assigned = [(tp.topic, tp.partition) for tp in self.consumer.assignment()]
        if not assigned:
            return False
        pairs = [(p.name, topic) for p in self.projections for topic in p.topics]
        row = self.db.fetchone(
            "SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS n(projection, topic) "
            "JOIN relay_partitions r ON r.topic = n.topic "
            "LEFT JOIN projection_positions p ON p.projection = n.projection AND p.topic = r.topic AND p.partition = r.partition "
            "WHERE (r.topic, r.partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
            "AND coalesce(p.last_notification_id, 0) < r.last_notification_id",
            ([name for name, _ in pairs], [topic for _, topic in pairs], [t for t, _ in assigned], [p for _, p in assigned]),
        )
        return bool(row and row[0])

    def unowned_lag(self) -> frozenset[tuple[str, int, int]]:
        """(topic, partition, position) where our projections are behind the relay on a partition this member is not
        assigned. Another member may own it (and then moves it along); if the same positions stay put across two stall
        checks, nobody does: a topic the embedded broker re-created with more partitions after a restart, which the
        group assigned from metadata that still had the old count. A fresh member joins with fresh metadata."""
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        if not assigned:
            return frozenset()  # still joining: nothing is assigned to anyone yet
        pairs = [(p.name, topic) for p in self.projections for topic in p.topics]
        rows = self.db.fetchall(
            "SELECT r.topic, r.partition, min(coalesce(p.last_notification_id, 0)) FROM unnest(%s::text[], %s::text[]) "
            "AS n(projection, topic) JOIN relay_partitions r ON r.topic = n.topic LEFT JOIN projection_positions p ON "
            "p.projection = n.projection AND p.topic = r.topic AND p.partition = r.partition "
            "WHERE coalesce(p.last_notification_id, 0) < r.last_notification_id GROUP BY r.topic, r.partition",
            ([name for name, _ in pairs], [topic for _, topic in pairs]),
        )
        return frozenset((topic, int(partition), int(position)) for topic, partition, position in rows
                         if (topic, partition) not in assigned)

    def run(self, stop: Callable[[], bool], stall_after: float = 6.0) -> None:
        """Poll and apply until told to stop. A watchdog rejoins the group when our partitions stay
        behind the relay with nothing arriving: a broker that restarted empty and had its topics
        recreated can leave a consumer silently fetching from positions that no longer exist. It also
        rejoins when partitions behind the relay stay unconsumed by any member for `UNOWNED_FOR` seconds
        (see `unowned_lag`)."""
        last_progress = time.monotonic()
        unowned: frozenset[tuple[str, int, int]] = frozenset()
        unowned_since = 0.0
        while not stop():
            try:
                if self.poll_once():
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > stall_after:
                    self.dead_letter_topic.publish_pending()  # any the broker refused earlier
                    if self.behind_on_assigned_partitions():
                        log.warning("consumer: no events for %.1fs while behind the relay; rejoining the group", stall_after)
                        self.rejoin()
                    else:
                        seen, unowned = unowned, self.unowned_lag()
                        if unowned != seen:
                            unowned_since = time.monotonic()
                        if unowned and time.monotonic() - unowned_since >= max(2 * stall_after, UNOWNED_FOR):
                            log.warning("consumer: partitions behind the relay that no member consumes (%s); rejoining the group",
                                        ", ".join(sorted(f"{topic}[{partition}]" for topic, partition, _ in unowned)))
                            unowned = frozenset()
                            self.rejoin()
                    last_progress = time.monotonic()
            except KafkaError as error:
                # A commit refused or a group forgotten (a broker restarted empty, say): a fresh member
                # joins the group and starts from its committed offsets, or from the earliest if none.
                log.warning("consumer: broker trouble (%s); rejoining the group", error)
                time.sleep(0.5)
                self.rejoin()
            except (psycopg2.Error, OSError) as error:
                log.warning("consumer: database trouble (%s); rejoining from the committed offsets", error)
                time.sleep(0.5)
                self.rejoin()
        self.consumer.close()
        self.dead_letter_topic.close()
