"""Publishing dead letters to the dead-letter topic, for alerting and for whoever watches Kafka.

The table is the record (retry-dead works from it); the topic is a copy. Rows are published after
the transaction that recorded them, marked `published_at` once the broker acknowledged, and any that
could not be published (broker away, topic missing) go out on a later call: at least once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from recur.consumers.dead_letters import COLUMNS, DeadLetter
from recur.contract.topics import DEAD_LETTERS
from recur.db import Database

log = logging.getLogger(__name__)
BATCH = 200
BACKOFF = 30.0  # seconds between attempts after the broker refused: a missing topic must not slow the consumer


def message(letter: DeadLetter) -> dict[str, Any]:
    try:
        event: Any = letter.event
    except ValueError:
        event = letter.event_json
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "projection": letter.projection,
        "kind": letter.kind,
        "topic": letter.topic,
        "partition": letter.partition,
        "notification_id": letter.notification_id,
        "aggregate_id": letter.aggregate_id,
        "version": letter.version,
        "event_name": letter.event_name,
        "error": {"class": letter.error_class, "message": letter.error_message},
        "first_failed_at": letter.first_failed_at.isoformat(),
        "attempts": letter.attempts,
        "event": event,
    }


class DeadLetterTopic:
    def __init__(self, db: Database, bootstrap_servers: str) -> None:
        self.db = db
        self.bootstrap = bootstrap_servers
        self.producer: KafkaProducer | None = None
        self.not_before = 0.0

    def publish_pending(self) -> int:
        """Publish the dead letters not yet on the topic; returns how many went out (0 when the broker refused)."""
        if time.monotonic() < self.not_before:
            return 0
        try:
            with self.db.transaction() as cur:
                # SKIP LOCKED: consumers scaled out do not publish the same rows at once.
                cur.execute(
                    f"SELECT {COLUMNS} FROM dead_letters WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (BATCH,),
                )
                letters = [DeadLetter(*row) for row in cur.fetchall()]
                if not letters:
                    return 0
                self._send(letters)
                cur.execute("UPDATE dead_letters SET published_at = now() WHERE id = ANY(%s)", ([d.id for d in letters],))
        except KafkaError as error:
            log.warning("dead letters not published to %s yet (%s); they stay recorded and go out later", DEAD_LETTERS, error)
            self.close()
            self.not_before = time.monotonic() + BACKOFF
            return 0
        return len(letters)

    def _send(self, letters: list[DeadLetter]) -> None:
        if self.producer is None:
            self.producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, client_id="recur-dead-letters", acks="all", max_block_ms=5000,
                allow_auto_create_topics=False,
            )
        futures = [
            self.producer.send(
                DEAD_LETTERS,
                key=(d.aggregate_id or str(d.id)).encode(),
                value=json.dumps(message(d), ensure_ascii=True, separators=(",", ":")).encode(),
                headers=[("content-type", b"application/json"), ("recur_dead_letter_kind", d.kind.encode())],
            )
            for d in letters
        ]
        self.producer.flush(timeout=10)
        for future in futures:
            future.get(timeout=10)

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=2)
            except KafkaError:
                log.debug("closing the dead-letter producer failed", exc_info=True)
            self.producer = None
