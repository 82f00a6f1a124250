"""The deliveries table: one row per (endpoint, event), decided by the recur-webhooks consumer group, sent by the
deliverer (recur.webhook_deliverer).

**Claimed, not locked, while in flight.** A receiver may take 15 s to answer; holding a row lock (and a database
connection) that long for each of many concurrent deliveries would tie up the pool. A deliverer instead claims due rows
with a lease (`in_flight_until`, wall clock) naming itself (`claimed_by`: host, pid and start time), sends without any
transaction open, and records the outcome only while the claim is still its own. A deliverer that died (kill -9)
leaves claims that another one takes over at once when it can tell the process is gone (same host), or when the lease
runs out: so a delivery in flight at a crash is sent at most once more, and none is lost.

**Bounded per endpoint.** Claims are made one transaction at a time (an advisory lock), counting the rows each endpoint
already has in flight: an endpoint never has more than `PER_ENDPOINT` deliveries under way, across every deliverer, so
a receiver that hangs holds a few workers and never the others' deliveries.

**On the billing clock.** `next_attempt_at` and `last_attempt_at` are the clock's times (the sandbox clock in the
sandbox): due work like charges, so the sandbox clock advance runs retries in time order with everything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recur.commands.idempotency import owner_is_dead
from recur.db import Database, storable_text
from recur.webhooks.schedule import delay_after

log = logging.getLogger(__name__)
STATUSES = ("pending", "succeeded", "failed")
PER_ENDPOINT = 4  # deliveries under way at once to one endpoint, across every deliverer
LEASE = timedelta(seconds=60)  # longer than an attempt (15 s) and the rendering before it
CLAIM_LOCK = 0x7765626B  # "webk": one claim transaction at a time, so per-endpoint counts are exact
COLUMNS = ("id, endpoint_id::text, producer_id::text, event_id, subscription_id::text, event_version, event_name, type, occurred_at, "
           "body, attempts, manual")
RETURNED = ", ".join("w." + column for column in COLUMNS.split(", "))


@dataclass(frozen=True)
class Claimed:
    """A delivery this deliverer holds until it records the attempt."""

    id: int
    endpoint_id: str
    producer_id: str
    webhook_id: str  # the event's id, `<subscription id>:<version>`: the same on every attempt and for every endpoint
    subscription_id: str
    event_version: int
    event_name: str
    type: str
    occurred_at: datetime
    body: bytes | None
    attempts: int  # before this one
    manual: bool


def _claimed(row: tuple[Any, ...]) -> Claimed:
    values = list(row)
    values[9] = bytes(values[9]) if values[9] is not None else None
    return Claimed(*values)


def claim_due(db: Database, now: datetime, limit: int, owner: str, per_endpoint: int = PER_ENDPOINT,
              lease: timedelta = LEASE) -> list[Claimed]:
    """Up to `limit` pending deliveries due at `now` (billing clock), oldest due first, at most `per_endpoint` in flight per
    endpoint (counting other deliverers' claims), claimed for `owner` for `lease`."""
    if limit <= 0:
        return []
    with db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK,))
        cur.execute(
            "WITH busy AS (SELECT endpoint_id, count(*) AS in_flight FROM webhook_deliveries WHERE in_flight_until >= now() "
            "GROUP BY endpoint_id), "
            "due AS (SELECT d.id, d.next_attempt_at, row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) "
            "+ coalesce(b.in_flight, 0) AS rank FROM webhook_deliveries d LEFT JOIN busy b USING (endpoint_id) "
            "WHERE d.status = 'pending' AND d.next_attempt_at <= %s AND (d.in_flight_until IS NULL OR d.in_flight_until < now())) "
            "UPDATE webhook_deliveries w SET in_flight_until = now() + %s, claimed_by = %s FROM (SELECT id FROM due WHERE rank <= %s "
            f"ORDER BY next_attempt_at, id LIMIT %s) chosen WHERE w.id = chosen.id RETURNING {RETURNED}",
            (now, lease, owner, per_endpoint, limit),
        )
        return sorted((_claimed(row) for row in cur.fetchall()), key=lambda claimed: claimed.id)


def store_body(db: Database, claimed: Claimed, body: bytes) -> bytes:
    """Keep the body rendered for the first attempt; every later attempt sends these bytes. Returns what is stored."""
    row = db.fetchone(
        "UPDATE webhook_deliveries SET body = coalesce(body, %s) WHERE id = %s RETURNING body", (body, claimed.id))
    return bytes(row[0]) if row else body


@dataclass(frozen=True)
class Recorded:
    """What recording an attempt did: the delivery's status after it, and since when its endpoint has been failing."""

    status: str
    next_attempt_at: datetime | None
    failing_since: datetime | None
    ours: bool  # False: the claim was no longer ours (taken over after our lease ran out): nothing recorded


def record_success(db: Database, claimed: Claimed, owner: str, attempt_at: datetime, response_status: int) -> Recorded:
    with db.transaction() as cur:
        cur.execute(
            "UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_attempt_at = %s, "
            "last_response_status = %s, last_error = NULL, next_attempt_at = NULL, in_flight_until = NULL, claimed_by = NULL, "
            "finished_at = now() WHERE id = %s AND claimed_by = %s RETURNING id",
            (attempt_at, response_status, claimed.id, owner),
        )
        ours = cur.fetchone() is not None
        cur.execute(
            "INSERT INTO webhook_endpoint_health (endpoint_id, failing_since, last_success_at) VALUES (%s, NULL, %s) "
            "ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = NULL, "
            "last_success_at = greatest(webhook_endpoint_health.last_success_at, EXCLUDED.last_success_at)",
            (claimed.endpoint_id, attempt_at),
        )
    return Recorded("succeeded", None, None, ours)


def record_failure(db: Database, claimed: Claimed, owner: str, attempt_at: datetime, response_status: int | None,
                   error: str) -> Recorded:
    """A non-2xx answer or none: tried again on the schedule (recur.webhooks.schedule), or failed for good after the last
    attempt (or after a retry by hand). The endpoint's failing streak starts at its first failure since a success."""
    attempts = claimed.attempts + 1
    delay = None if claimed.manual else delay_after(attempts)
    next_attempt_at = attempt_at + delay if delay is not None else None
    status = "pending" if next_attempt_at is not None else "failed"
    with db.transaction() as cur:
        cur.execute(
            "UPDATE webhook_deliveries SET status = %s, attempts = %s, last_attempt_at = %s, last_response_status = %s, "
            "last_error = %s, next_attempt_at = %s, manual = false, in_flight_until = NULL, claimed_by = NULL, "
            "finished_at = CASE WHEN %s = 'failed' THEN now() END WHERE id = %s AND claimed_by = %s RETURNING id",
            (status, attempts, attempt_at, response_status, storable_text(error, 500), next_attempt_at, status, claimed.id, owner),
        )
        ours = cur.fetchone() is not None
        cur.execute(
            "INSERT INTO webhook_endpoint_health (endpoint_id, failing_since) VALUES (%s, %s) ON CONFLICT (endpoint_id) DO UPDATE "
            "SET failing_since = coalesce(webhook_endpoint_health.failing_since, EXCLUDED.failing_since) RETURNING failing_since",
            (claimed.endpoint_id, attempt_at),
        )
        row = cur.fetchone()
    return Recorded(status, next_attempt_at, row[0] if row else attempt_at, ours)


def give_up(db: Database, claimed: Claimed, owner: str, attempt_at: datetime, reason: str) -> None:
    """Not sent, and not to be: its endpoint was disabled or deleted meanwhile. Recorded as failed with the reason; no
    attempt is counted, and it says nothing about the receiver's health."""
    db.execute(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = %s, last_attempt_at = %s, next_attempt_at = NULL, "
        "manual = false, in_flight_until = NULL, claimed_by = NULL, finished_at = now() WHERE id = %s AND claimed_by = %s",
        (storable_text(reason, 500), attempt_at, claimed.id, owner),
    )


def hold_back(db: Database, claimed: Claimed, owner: str, seconds: float = 30.0) -> None:
    """A fault of ours kept the attempt from being made (the event store unreadable, a bug): the claim is kept for
    `seconds` more, then runs out and the delivery is due again, its receiver's retries untouched and no loop spinning."""
    db.execute("UPDATE webhook_deliveries SET in_flight_until = now() + %s * interval '1 second' WHERE id = %s AND claimed_by = %s",
               (seconds, claimed.id, owner))


def retry_now(db: Database, endpoint_id: str, delivery_id: int, now: datetime) -> bool:
    """A producer asks for a delivery to be sent again now. One still on its schedule is simply brought forward; one that
    succeeded or failed for good gets one more attempt (no schedule after it). False when there is no such delivery."""
    row = db.fetchone(
        "UPDATE webhook_deliveries SET next_attempt_at = %s, manual = (status <> 'pending'), status = 'pending', finished_at = NULL "
        "WHERE endpoint_id = %s AND id = %s RETURNING id",
        (now, endpoint_id, delivery_id),
    )
    return row is not None


def next_due_at(db: Database, until: datetime) -> datetime | None:
    """The earliest attempt due at or before `until` (billing clock) that no deliverer has under way."""
    row = db.fetchone(
        "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= %s "
        "AND (in_flight_until IS NULL OR in_flight_until < now())",
        (until,),
    )
    return row[0] if row else None


def release_claims_of_the_dead(db: Database) -> int:
    """Claims held by processes of this host that are gone (kill -9, a crash): due again at once, not after the lease."""
    owners = [owner for (owner,) in db.fetchall(
        "SELECT DISTINCT claimed_by FROM webhook_deliveries WHERE claimed_by IS NOT NULL AND in_flight_until >= now()")]
    dead = [owner for owner in owners if owner_is_dead(owner)]
    if not dead:
        return 0
    row = db.fetchone(
        "WITH released AS (UPDATE webhook_deliveries SET in_flight_until = NULL, claimed_by = NULL WHERE claimed_by = ANY(%s) "
        "RETURNING 1) SELECT count(*) FROM released", (dead,))
    count = int(row[0]) if row else 0
    if count:
        log.warning("webhooks: %d deliveries were in flight in a deliverer that died; sending them again", count)
    return count


def forget_seen_events(db: Database, older_than: timedelta = timedelta(days=1)) -> int:
    """The consumer group's memory of recent events (for endpoints it learns of late) is kept a day."""
    row = db.fetchone("WITH gone AS (DELETE FROM webhook_events WHERE seen_at < now() - %s RETURNING 1) SELECT count(*) FROM gone",
                      (older_than,))
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class DeliveriesStatus:
    """What `recur webhooks status` and /metrics show."""

    counts: dict[str, int]  # status -> deliveries
    oldest_pending_seconds: float  # since the oldest pending delivery was decided (0 when none)
    endpoints: dict[str, int]  # enabled / disabled -> endpoints (read model)
    recent_failures: list[tuple[int, str, str, int | None, str]]  # (id, endpoint, type, last status, error), newest first


def status(db: Database, failures: int = 10) -> DeliveriesStatus:
    counts = {state: int(count) for state, count in db.fetchall("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")}
    row = db.fetchone("SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM webhook_deliveries WHERE status = 'pending'")
    endpoints = {state: int(count) for state, count in db.fetchall(
        "SELECT status, count(*) FROM rm_webhook_endpoints WHERE deleted_at IS NULL GROUP BY status")}
    recent = [(int(delivery_id), str(endpoint), kind, code, error or "") for delivery_id, endpoint, kind, code, error in db.fetchall(
        "SELECT id, endpoint_id, type, last_response_status, last_error FROM webhook_deliveries WHERE status = 'failed' "
        "ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT %s", (failures,))]
    return DeliveriesStatus(counts, float(row[0]) if row else 0.0, endpoints, recent)


def overdue(db: Database, now: datetime, seconds: float) -> int:
    """Deliveries due more than `seconds` before `now` (billing clock) that no deliverer has under way."""
    row = db.fetchone(
        "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at < %s - %s * interval '1 second' "
        "AND (in_flight_until IS NULL OR in_flight_until < now())",
        (now, seconds),
    )
    return int(row[0]) if row else 0
