"""The e-mail outbox: one row per message recur decided to send, sent by `recur.notifications.sender`.

Deciding and sending are apart so that neither a crash nor a slow SMTP server loses or doubles a message:
the decision is a row inserted in the decider's own transaction (the notifier's, with the events it
applied; the scheduler's, with the report period it closed), unique by `dedup_key`; sending takes one row
at a time under a row lock (SKIP LOCKED, so several senders never take the same one), and records the
outcome in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.db import Database

KINDS_TO_SUBSCRIBERS = (
    "renewal_reminder",
    "trial_ending",
    "payment_receipt",
    "charge_failed",
    "retries_exhausted",
    "boleto_issued",
    "cancelled",
    "refund",
)
KINDS_TO_PRODUCERS = ("report", "webhook_endpoint_disabled")
KINDS = (*KINDS_TO_SUBSCRIBERS, *KINDS_TO_PRODUCERS)
STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class OutgoingMail:
    """A message decided and rendered, waiting for the SMTP server."""

    dedup_key: str  # (subscription or schedule, kind, cycle or period): at most one message each
    kind: str
    recipient: str
    sender_name: str | None  # display name beside RECUR_MAIL_FROM (the producer's, for subscriber mail)
    subject: str
    message: bytes  # the MIME message without From (the sender adds it)
    decided_at: datetime  # the clock's time when it was decided
    producer_id: str | None = None
    subscription_id: str | None = None


def enqueue(cur: Any, mail: OutgoingMail) -> None:
    """Record a message in the caller's transaction; a message with the same key already there wins."""
    cur.execute(
        "INSERT INTO email_outbox (dedup_key, kind, producer_id, subscription_id, recipient, sender_name, subject, message, "
        "decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (dedup_key) DO NOTHING",
        (mail.dedup_key, mail.kind, mail.producer_id, mail.subscription_id, mail.recipient, mail.sender_name, mail.subject,
         mail.message, mail.decided_at),
    )


def smtp_can_carry(address: str) -> bool:
    """Whether plain SMTP can carry the address: a mailbox name beyond ASCII needs SMTPUTF8, which recur does not
    use (the API accepts such addresses, as subscribers have them; their mail is recorded as refused for good)."""
    return address.rpartition("@")[0].isascii()


def record_undeliverable(cur: Any, dedup_key: str, kind: str, recipient: str, decided_at: datetime, reason: str,
                         producer_id: str | None = None, subscription_id: str | None = None) -> None:
    """A message recur decided but cannot send: kept as failed, so status and metrics show it like a bounce."""
    cur.execute(
        "INSERT INTO email_outbox (dedup_key, kind, producer_id, subscription_id, recipient, subject, message, decided_at, status, "
        "last_error, last_attempt_at) VALUES (%s, %s, %s, %s, %s, '', '', %s, 'failed', %s, now()) ON CONFLICT (dedup_key) DO NOTHING",
        (dedup_key, kind, producer_id, subscription_id, recipient, decided_at, reason),
    )


@dataclass(frozen=True)
class OutboxStatus:
    """What `recur notifications status` and /metrics show: counts by kind and status, and the oldest wait."""

    counts: dict[tuple[str, str], int]  # (kind, status) -> messages
    oldest_pending_seconds: float  # 0 when nothing waits
    recent_failures: list[tuple[int, str, str, datetime]]  # (id, kind, error, when), newest first

    def total(self, status: str) -> int:
        return sum(n for (_, s), n in self.counts.items() if s == status)


def status(db: Database, failures: int = 10) -> OutboxStatus:
    counts = {(kind, state): int(n) for kind, state, n in db.fetchall(
        "SELECT kind, status, count(*) FROM email_outbox GROUP BY kind, status")}
    row = db.fetchone("SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM email_outbox WHERE status = 'pending'")
    recent = [(int(i), k, e or "", at) for i, k, e, at in db.fetchall(
        "SELECT id, kind, last_error, coalesce(last_attempt_at, created_at) FROM email_outbox WHERE status = 'failed' "
        "ORDER BY id DESC LIMIT %s", (failures,))]
    return OutboxStatus(counts, float(row[0]) if row else 0.0, recent)
