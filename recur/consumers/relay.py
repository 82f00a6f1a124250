"""The relay: follows the event store's notification log in order and publishes every event to
Kafka, recording its position in PostgreSQL only after the broker acknowledged (at-least-once).

A broker that forgot everything (the embedded broker keeps data in memory only) is detected in
two ways: our topics had to be created anew, or their log end is behind what we published. In
both cases the relay publishes the whole history again from the first event. Consumers drop what
they already applied (per-aggregate version guard), so nothing is counted twice and read models
end equal to a rebuild.

An event the encoder cannot encode does not stop publication. Skipping it alone would be wrong:
consumers would see that aggregate's next version with a gap and wait forever for the missing one (or,
worse, apply the rest on top of a hole). So the relay holds the aggregate: the event, and every later
event of the same aggregate, become dead letters (consumer `relay`) and are not published, while all
other aggregates go on. Read models keep that aggregate as it was before the bad event, which is what
a rebuild gives too; `recur projections retry-dead` publishes the held events in order after a fix.

Topics with the wrong partition count are deleted and recreated only on the embedded broker (whose
memory-only topics hold nothing the history cannot restore); on a real cluster the relay refuses to
start with a TopicMismatchError naming them.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import select
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg2
from kafka import KafkaProducer
from kafka.errors import KafkaError

from recur.commands.event_store import RecurEvents
from recur.consumers import dead_letters
from recur.consumers.dead_letter_topic import DeadLetterTopic
from recur.consumers.dead_letters import Unpublished
from recur.consumers.topic_admin import TopicMismatchError, ensure_topics, misshapen_topics, recreate_topics, topic_end_offsets
from recur.contract.encoding import EventEncoder, producer_lookup
from recur.contract.topics import ALL, PARTITIONS
from recur.db import Database, is_transient, storable_text

log = logging.getLogger(__name__)
BATCH = 500
# After a NOTIFY wakes the relay, it waits this long before reading: each wake-up costs its queries (position, dead
# letters, the notifications, the data keys), a broker round trip and a transaction for the new position whatever the
# batch holds, and commands arriving one at a time otherwise made one batch each (the lag benchmark measured the relay
# at about a fifth of the machine's CPU). A few milliseconds of lag buy batches several times larger.
GATHER_S = 0.01
RELAY_NAME = "relay"


class BrokerResetError(Exception):
    """The broker lost messages we had published: start over from the first event."""


class Relay:
    def __init__(self, events: RecurEvents, db: Database, bootstrap_servers: str, broker_is_embedded: bool = False) -> None:
        self.events = events
        self.db = db
        self.bootstrap = bootstrap_servers
        self.broker_is_embedded = broker_is_embedded
        self.encoder = EventEncoder(events.mapper, producer_lookup(events.recorder, events.mapper))
        self.producer: KafkaProducer | None = None
        self.last_offsets: dict[tuple[str, int], int] = {}
        self.broker_lost_data = False
        self.heartbeat = time.monotonic()
        self.dead_letter_topic = DeadLetterTopic(db, bootstrap_servers)

    # ------------------------------------------------------------ position
    def position(self) -> tuple[int, str | None]:
        row = self.db.fetchone("SELECT notification_id, broker_epoch FROM relay_position WHERE name = %s", (RELAY_NAME,))
        return (int(row[0]), row[1]) if row else (0, None)

    def _save(self, position: int, epoch: str | None, partitions: dict[tuple[str, int], int],
              unpublished: list[Unpublished] | None = None) -> None:
        with self.db.transaction() as cur:
            dead_letters.record_unpublished(cur, unpublished or [])
            cur.execute(
                "INSERT INTO relay_position (name, notification_id, broker_epoch) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET notification_id = EXCLUDED.notification_id, "
                "broker_epoch = EXCLUDED.broker_epoch, updated_at = now()",
                (RELAY_NAME, position, epoch),
            )
            for (topic, partition), last_id in partitions.items():
                cur.execute(
                    "INSERT INTO relay_partitions (topic, partition, last_notification_id) VALUES (%s, %s, %s) "
                    "ON CONFLICT (topic, partition) DO UPDATE SET last_notification_id = "
                    "greatest(relay_partitions.last_notification_id, EXCLUDED.last_notification_id)",
                    (topic, partition, last_id),
                )

    # ------------------------------------------------------------ broker
    def connect(self) -> None:
        """Make sure the topics exist with the right partitions; if the broker lost what we published
        (it came back empty), publish everything again from the first event.

        Raises TopicMismatchError when a topic has another partition count and the broker is not the
        embedded one: that is for an operator to fix, never for the relay to delete.
        """
        created = ensure_topics(self.bootstrap, ALL, PARTITIONS)
        misshapen = misshapen_topics(self.bootstrap, ALL, PARTITIONS)
        if misshapen:
            if not self.broker_is_embedded:
                raise TopicMismatchError(misshapen)
            recreate_topics(self.bootstrap, ALL, PARTITIONS)
        position, epoch = self.position()
        ends = topic_end_offsets(self.bootstrap, ALL)
        empty = sum(ends.values()) == 0
        lost = self.broker_lost_data or bool(created) or bool(misshapen) or empty
        if position > 0 and (lost or epoch is None):
            log.warning("the broker has lost events published before: publishing all %d again", position)
            self._save(0, str(uuid.uuid4()), {})
            if misshapen or self.broker_lost_data:
                ends = topic_end_offsets(self.bootstrap, ALL)
        elif epoch is None:
            self._save(position, str(uuid.uuid4()), {})
        self.broker_lost_data = False
        self.last_offsets = {tp: end - 1 for tp, end in ends.items()}
        if self.producer is None:
            self.producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id="recur-relay",
                acks="all",
                linger_ms=2,
                batch_size=256 * 1024,  # measured x1.32 events/s over the 16 KiB default (docs/PERFORMANCE.md)
                retries=5,
                enable_idempotence=False,  # a restarted empty broker would reject old sequence numbers
                max_in_flight_requests_per_connection=1,  # keeps per-partition order across retries
                allow_auto_create_topics=False,  # topics are made with the right partition count
                max_block_ms=10000,
                compression_type=None,
            )

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)
            self.producer = None
        self.dead_letter_topic.close()

    # ------------------------------------------------------------ publishing
    def publish_batch(self, limit: int = BATCH) -> int:
        """Publish the next events after our position; returns how many were published."""
        assert self.producer is not None
        position, epoch = self.position()
        notifications = self.events.recorder.select_notifications(position + 1, limit)
        if not notifications:
            return 0
        with self.db.autocommit() as cur:
            held = dead_letters.held_by_relay(cur)
        decoded = self._decoded(notifications)
        futures = []
        unpublished: list[Unpublished] = []
        for notification in notifications:
            aggregate_id = str(notification.originator_id)
            first_held = held.get(aggregate_id)
            if first_held is not None and notification.originator_version >= first_held:
                # Its aggregate has an earlier event that could not be published (a republication of the whole
                # history still publishes the events before that one).
                unpublished.append(_unpublished(notification))
                continue
            try:
                known = decoded.get(notification.id)
                public = self.encoder.encode(notification) if known is None else self.encoder.encode_event(known, notification.id)
            except Exception as error:
                if is_transient(error):
                    raise
                log.error("relay: notification %d (%s) cannot be encoded (%s: %s): it and the later events of %s are held as "
                          "dead letters until `recur projections retry-dead`", notification.id, notification.topic,
                          type(error).__name__, storable_text(str(error).strip())[:200], aggregate_id)
                held[aggregate_id] = notification.originator_version
                unpublished.append(_unpublished(notification, error))
                continue
            future = self.producer.send(public.topic, key=public.key, value=public.value, headers=public.headers)
            futures.append((notification.id, future))
        self.producer.flush(timeout=30)
        partitions: dict[tuple[str, int], int] = {}
        for notification_id, future in futures:
            metadata = future.get(timeout=30)
            tp = (metadata.topic, metadata.partition)
            if metadata.offset <= self.last_offsets.get(tp, -1):
                raise BrokerResetError(f"{tp} acknowledged offset {metadata.offset}, behind {self.last_offsets[tp]}")
            self.last_offsets[tp] = metadata.offset
            partitions[tp] = notification_id
        self._save(notifications[-1].id, epoch, partitions, unpublished)
        if unpublished:
            self.dead_letter_topic.publish_pending()
        return len(notifications)

    def _decoded(self, notifications: list[Any]) -> dict[int, Any]:
        """The batch's events decoded at once (the subscriptions' data keys read with one query, not one per event);
        empty when any of them fails to decode, and each is then decoded on its own, so that only the one at fault is
        held (transient errors are raised either way)."""
        try:
            events = self.events.mapper.to_domain_events(notifications)
        except Exception as error:
            if is_transient(error):
                raise
            return {}
        return {notification.id: event for notification, event in zip(notifications, events, strict=True)}

    def run(self, stop: Callable[[], bool], database_url: str, on_ready: Callable[[], None] = lambda: None) -> None:
        """Publish until told to stop, waking on the event store's NOTIFY or every half second.

        Only one relay publishes at a time (a session advisory lock): a second one is a hot standby
        that takes over when the first dies, so events are never published by two relays at once.
        """
        listener = _listen(database_url, self.events.recorder.channel_name)  # type: ignore[attr-defined]
        if not _become_the_active_relay(listener, stop, self.beat):
            listener.close()
            return
        # Connect only once active: a standby must not judge the broker (and reset the position) meanwhile.
        ready = False
        while not stop():
            self.heartbeat = time.monotonic()
            try:
                if self.producer is None:
                    self.connect()
                if not ready:
                    on_ready()
                    ready = True
                # A batch short of BATCH was all there was; what is committed meanwhile notifies the listener.
                while self.publish_batch() >= BATCH and not stop():
                    self.heartbeat = time.monotonic()
            except (KafkaError, BrokerResetError, TimeoutError, OSError, RuntimeError) as error:
                log.warning("relay: broker trouble (%s); reconnecting", error)
                if isinstance(error, BrokerResetError):
                    self.broker_lost_data = True
                self.close()
                time.sleep(0.5)
                continue
            if select.select([listener], [], [], 0.5)[0]:
                time.sleep(GATHER_S)  # let the saves of the next moments join this batch
                listener.poll()
                listener.notifies.clear()
        listener.close()
        self.close()


def _unpublished(notification: Any, error: BaseException | None = None) -> Unpublished:
    """A dead letter of the relay: the stored event as it is in the event store (re-read from there on retry)."""
    stored = {
        "topic": notification.topic,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "state": bytes(notification.state).decode("utf-8", "replace"),
    }
    name = str(notification.topic).rsplit(".", 1)[-1]
    return Unpublished(notification.id, str(notification.originator_id), notification.originator_version, name, stored, error)


def start_watchdog(relay: Relay, limit: float = 90.0) -> threading.Thread:
    """Exit the process if the relay makes no progress for `limit` seconds.

    Seen with an empty broker restarting under load: the Kafka client stopped answering without raising.
    Every step has its own timeout, so a silent relay is a stuck one; it dumps its threads (for the
    logs) and exits, and the supervisor starts a fresh one, which reconnects and resumes from its
    recorded position.
    """

    def watch() -> None:
        while True:
            time.sleep(limit / 6)
            silent = time.monotonic() - relay.heartbeat
            if silent > limit:
                log.critical("relay made no progress for %.0fs; exiting so that it is restarted", silent)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(70)

    thread = threading.Thread(target=watch, name="relay-watchdog", daemon=True)
    thread.start()
    return thread


RELAY_LOCK = 727_002


def _become_the_active_relay(conn: psycopg2.extensions.connection, stop: Callable[[], bool], beat: Callable[[], None]) -> bool:
    waiting_logged = False
    while not stop():
        beat()  # standing by is not being stuck
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK,))
            row = cur.fetchone()
        if row and row[0]:
            return True
        if not waiting_logged:
            log.info("another relay is active; standing by until it stops")
            waiting_logged = True
        time.sleep(0.5)
    return False


def _listen(database_url: str, channel: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(database_url)
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cur:
        cur.execute(f'LISTEN "{channel}"')
    return conn
