"""The sandbox mailbox: what the local SMTP sink received (recur.embedded.smtp_sink), newest first.

Rows are read with the message bytes and the MIME is read here, so the API shows what really went over SMTP:
the Date the sender wrote (`sent_at`), the From header, the attachments. `to` is the envelope's recipients (what
the server was asked to deliver to, Bcc included), not the To header.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from recur.db import Database
from recur.notifications.mime_reader import read_message
from recur.projections.queries import After, Page, page_of
from recur.projections.queries.rows import dict_rows

COLUMNS = "id, received_at, mail_from, recipients, kind, subject, message"


def described(row: dict[str, Any], bodies: bool = False) -> dict[str, Any]:
    """A mailbox row as the API shows it; `bodies` adds the text and HTML parts."""
    read = read_message(bytes(row["message"]))
    item = {
        "id": str(row["id"]),
        "to": list(row["recipients"]),
        "from": read.sender,
        "kind": row["kind"],
        "subject": row["subject"],
        "sent_at": read.sent_at,
        "received_at": row["received_at"],
        "size": len(row["message"]),
        "attachments": [asdict(attachment) for attachment in read.attachments],
    }
    if bodies:
        item.update(text=read.text, html=read.html)
    return item


def list_received(db: Database, recipient: str | None, kind: str | None, after: After | None, limit: int) -> Page:
    """Messages the sink received, newest first (by arrival), to `recipient` (exact, case-insensitive) and of `kind`."""
    sql = f"SELECT {COLUMNS} FROM sandbox_mailbox WHERE true"  # noqa: S608 - a constant list of columns
    params: list[Any] = []
    if recipient:
        sql += " AND EXISTS (SELECT 1 FROM unnest(recipients) AS r WHERE lower(r) = lower(%s))"
        params.append(recipient)
    if kind:
        sql += " AND kind = %s"
        params.append(kind)
    if after:
        sql += " AND (received_at, id) < (%s::timestamptz, %s::bigint)"
        params.extend(after)
    sql += " ORDER BY received_at DESC, id DESC LIMIT %s"
    params.append(limit + 1)
    page = page_of(dict_rows(db, sql, params), limit, "received_at", "id")
    return Page([described(row) for row in page.rows], page.next_after)


def received(db: Database, message_id: int) -> dict[str, Any] | None:
    """One message with its text and HTML bodies, or None."""
    rows = dict_rows(db, f"SELECT {COLUMNS} FROM sandbox_mailbox WHERE id = %s", [message_id])  # noqa: S608
    return described(rows[0], bodies=True) if rows else None
