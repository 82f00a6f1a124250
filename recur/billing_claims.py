"""Due subscriptions claimed in batches, so that several billing schedulers share the work without overlap.

A pass claims up to a batch of due subscriptions with one statement: the schedule rows are read with
`FOR UPDATE SKIP LOCKED` (two claimers never wait on each other), and the claim rows' primary key decides between two
claimers that met the same row. A claim is a lease on the database's wall clock: a scheduler that dies mid-batch leaves
claims that expire after LEASE_S, and the next pass bills those subscriptions, settling any attempt left in flight by
its idempotency key.

When a batch is done its claims expire at once (others may take the subscriptions again: with the read models behind,
a subscription may still look due, and the aggregate then finds nothing to charge), but they keep the pass as owner,
so the same pass never takes them twice. `finish_pass` deletes what is left of a pass's claims.

This replaces one advisory-lock round trip per subscription: a batch of 500 costs one statement to claim and one to
release. A pass claims in the order (due_at, subscription_id) and starts each claim where its last one ended
(ClaimCursor), so a claim reads only the rows it takes, however many the pass already billed. It sits beside the
scheduler: it reads the billing-schedule read model.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from recur.commands import scheduler_failures
from recur.db import Database

# Longer than any batch takes (a batch of 500 charges at 64 in flight and 800 ms each is about 7 s), short enough that
# a dead scheduler's work is picked up within minutes.
LEASE_S = 120


def new_owner() -> str:
    """A name for one pass of one scheduler: host, process and a random part (two passes never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class ClaimCursor:
    """How far a pass has claimed, in the order (due_at, subscription_id): its next claim starts after that row.

    Subscriptions a pass billed stay due in the schedule until the read model catches up (in a run of 100,000 renewals at
    one instant, all of them); starting each claim from the beginning scanned every one of those again, which made a
    long run quadratic. What a pass leaves behind its cursor (rows another scheduler held when it went by) is the next
    pass's, which starts from the beginning."""

    due_at: datetime | None = None
    subscription_id: str | None = None


def claim_due(db: Database, owner: str, now: datetime, limit: int, cursor: ClaimCursor | None = None) -> list[str]:
    """Claim up to `limit` subscriptions due at `now`, earliest first, that no other live pass holds and this pass has
    not taken yet; returns their ids. Subscriptions waiting out a backoff are left out. With a `cursor`, the claim
    starts after it, and the cursor moves to the last subscription claimed."""
    after = cursor is not None and cursor.due_at is not None
    rows = db.fetchall(
        "WITH due AS ("
        " SELECT b.subscription_id, b.due_at FROM rm_billing_schedule b"
        " LEFT JOIN billing_claims c ON c.subscription_id = b.subscription_id"
        f" WHERE b.due_at <= %(now)s AND {scheduler_failures.NOT_BACKING_OFF}"
        + (" AND (b.due_at, b.subscription_id) > (%(after_due)s, %(after_id)s::uuid)" if after else "") +
        "  AND (c.subscription_id IS NULL OR (c.lease_until <= now() AND c.owner <> %(owner)s))"
        " ORDER BY b.due_at, b.subscription_id LIMIT %(limit)s"
        " FOR UPDATE OF b SKIP LOCKED),"
        " claimed AS ("
        " INSERT INTO billing_claims AS c (subscription_id, owner, lease_until)"
        " SELECT subscription_id, %(owner)s, now() + make_interval(secs => %(lease)s) FROM due"
        " ON CONFLICT (subscription_id) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until"
        " WHERE c.lease_until <= now() AND c.owner <> EXCLUDED.owner"
        " RETURNING c.subscription_id)"
        " SELECT due.subscription_id::text, due.due_at FROM due JOIN claimed USING (subscription_id)"
        " ORDER BY due.due_at, due.subscription_id",
        {"now": now, "owner": owner, "limit": limit, "lease": LEASE_S,
         "after_due": cursor.due_at if cursor else None, "after_id": cursor.subscription_id if cursor else None},
    )
    if cursor is not None and rows:
        cursor.subscription_id, cursor.due_at = rows[-1]
    return [row[0] for row in rows]


def batch_done(db: Database, owner: str, subscription_ids: list[str]) -> None:
    """Let other passes take these subscriptions again (this pass never does)."""
    if subscription_ids:
        db.execute("UPDATE billing_claims SET lease_until = now() WHERE owner = %s AND subscription_id = ANY(%s::uuid[])",
                   (owner, subscription_ids))


def finish_pass(db: Database, owner: str) -> None:
    """Remove every claim the pass made."""
    db.execute("DELETE FROM billing_claims WHERE owner = %s", (owner,))


def held_elsewhere(db: Database, owner: str, now: datetime) -> int:
    """Subscriptions due at `now` that another live pass holds: work in progress the clock must wait for."""
    row = db.fetchone(
        "SELECT count(*) FROM billing_claims c JOIN rm_billing_schedule b ON b.subscription_id = c.subscription_id "
        "WHERE c.owner <> %s AND c.lease_until > now() AND b.due_at <= %s",
        (owner, now),
    )
    return int(row[0]) if row else 0
