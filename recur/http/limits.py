"""The bounds the API puts on its input, in one place (README "Input limits" lists them).

Each bound is what storage and the parts downstream can hold, with room to spare: whatever the API
accepts must reach every read model, e-mail and export without failing there, because an event the
pipeline cannot apply hurts every tenant, not only the one who sent it. Money's own bound lives in
the domain (recur.domain.money.MAX_MINOR_UNITS) so that no path can create an amount bigger than it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_BODY_BYTES = 1024 * 1024  # the largest request body: a plan or subscription is well under 2 KiB
MAX_NAME_LENGTH = 200  # product, plan, offer, producer and subscriber names
MAX_REASON_LENGTH = 500  # a cancellation's reason
MAX_EMAIL_LENGTH = 254  # RFC 5321: the longest address a mail server relays
MAX_CARD_TOKEN_LENGTH = 100
MAX_TIME_ZONE_LENGTH = 64  # IANA names are at most about 30 characters (America/Argentina/ComodRivadavia)
MAX_CURSOR_LENGTH = 512  # cursors this API issues are about 100 characters
MAX_TEXT_ID_LENGTH = 200  # a transaction id inside a report cursor

# Dates a report, dashboard or the sandbox clock may name: every instant recur records falls inside.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
# How far past the real present the shared sandbox clock may go (a decade of simulated billing).
SANDBOX_CLOCK_HORIZON = timedelta(days=3653)

# An X-Request-Id is stored in every event it causes: only short, plain ones are kept as sent.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
