"""Publishing the event log's checkpoints to recur.audit.v1, where auditors keep them out of recur's reach.

The audit_checkpoints table is the record; the topic is the copy that matters: someone able to rewrite the
event store can rewrite that table too, but not what auditors already read from the topic. Checkpoints are
published after the transaction that recorded them, marked `published_at` once the broker acknowledged them,
and any that could not be published (broker away) go out on a later call, in notification order: at least once.
All share one key, so they stay in order on one partition.
"""

from __future__ import annotations

import json
import logging
import time

from kafka import KafkaProducer
from kafka.errors import KafkaError

from recur.commands.audit_checkpoints import Checkpoint, mark_published, unpublished_checkpoints
from recur.contract.audit import KEY
from recur.contract.topics import AUDIT
from recur.db import Database

log = logging.getLogger(__name__)
BATCH = 200
# Seconds between attempts after the broker refused. Checkpoints are hourly, and each attempt at an unreachable
# broker holds the scheduler's loop (billing) for up to BOOTSTRAP_SECONDS: try seldom.
BACKOFF = 300.0
BOOTSTRAP_SECONDS = 5


def encoded(checkpoint: Checkpoint) -> bytes:
    return json.dumps(checkpoint.message(), ensure_ascii=True, separators=(",", ":")).encode()


class AuditTopic:
    def __init__(self, db: Database, bootstrap_servers: str) -> None:
        self.db = db
        self.bootstrap = bootstrap_servers
        self.producer: KafkaProducer | None = None
        self.not_before = 0.0
        self.behind = False  # the broker refused the last attempt: some checkpoints wait to be published

    def publish_pending(self) -> int:
        """Publish the checkpoints not yet on the topic; returns how many went out (0 when the broker refused)."""
        if time.monotonic() < self.not_before:
            return 0
        sent = 0
        try:
            while True:
                with self.db.transaction() as cur:
                    checkpoints = unpublished_checkpoints(cur, BATCH)
                    if not checkpoints:
                        self.behind = False
                        return sent
                    self._send(checkpoints)
                    mark_published(cur, checkpoints)
                sent += len(checkpoints)
        except KafkaError as error:
            log.warning("audit checkpoints not published to %s yet (%s); they stay recorded and go out later", AUDIT, error)
            self.close()
            self.not_before = time.monotonic() + BACKOFF
            self.behind = True
            return sent

    def _send(self, checkpoints: list[Checkpoint]) -> None:
        if self.producer is None:
            self.producer = KafkaProducer(
                bootstrap_servers=self.bootstrap, client_id="recur-audit", acks="all", max_block_ms=5000,
                bootstrap_timeout_ms=BOOTSTRAP_SECONDS * 1000,
                allow_auto_create_topics=False,
            )
        futures = [
            self.producer.send(AUDIT, key=KEY.encode(), value=encoded(checkpoint), headers=[("content-type", b"application/json")])
            for checkpoint in checkpoints
        ]
        # A few seconds at most: this runs in the scheduler's loop, and when it stops, within its 10 s to exit.
        self.producer.flush(timeout=BOOTSTRAP_SECONDS)
        for future in futures:
            future.get(timeout=BOOTSTRAP_SECONDS)

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=2)
            except KafkaError:
                log.debug("closing the audit producer failed", exc_info=True)
            self.producer = None
