"""Signing out of the dashboard page for good.

The page's session is a signed cookie: the server keeps nothing, so a copy of the cookie taken before
a sign-out would still open the page until it expires. Each session therefore carries a random id,
and signing out records that id as ended; the page refuses sessions whose id is recorded. Records
outlive the cookie's lifetime by nothing: a cookie older than that is refused by its signature's age.
"""

from __future__ import annotations

from datetime import timedelta

from recur.db import Database


def end_session(db: Database, session_id: str, lifetime: timedelta) -> None:
    db.execute("INSERT INTO dashboard_sign_outs (session_id) VALUES (%s) ON CONFLICT (session_id) DO NOTHING", (session_id,))
    db.execute("DELETE FROM dashboard_sign_outs WHERE signed_out_at < now() - %s", (lifetime,))


def session_ended(db: Database, session_id: str) -> bool:
    return db.fetchone("SELECT 1 FROM dashboard_sign_outs WHERE session_id = %s", (session_id,)) is not None
