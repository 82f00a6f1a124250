"""Finding the events stored before personal data was encrypted (before migration 016): `SubscriptionStarted` and
`PaymentMethodChanged` rows whose personal fields hold plain values and which have no `personal_data` field.

Why a bound: such rows can only come from before 016 (the mapper seals every event written since), so migration 017
records in `legacy_personal_data.plain_until` the last notification id holding one (0 when none), found once at the
upgrade (a max() PostgreSQL answers by reading back from the newest event), and every query here reads the events up
to it only: on a fresh install or once `recur audit encrypt-legacy` has run, the bound is 0 and the checks cost one
indexed lookup. Before that, they read the history stored before
the upgrade (the two event types' rows, their JSON parsed by PostgreSQL): seconds per million events, paid at the
start of `recur up`, by `recur audit verify` and by an erasure, until the operator runs encrypt-legacy.

The stored state is eventsourcing's JSON (UTF-8 bytes in a bytea column): `convert_from(state, 'UTF8')::json` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.utils import get_topic

from recur.db import Database
from recur.domain.personal_data import PERSONAL_FIELDS

BOUND = "(SELECT plain_until FROM legacy_personal_data)"


def personal_topics() -> list[str]:
    """The stored topics of the event types that carry personal data."""
    from recur.domain.subscription import Subscription

    return [get_topic(getattr(Subscription, name)) for name in PERSONAL_FIELDS]


def _plain_condition(stored: str) -> str:
    """SQL true when the JSON `stored` has no sealed field and at least one personal value that is not null."""
    paths = sorted({path for paths in PERSONAL_FIELDS.values() for path in paths})
    present = " OR ".join(f"{stored} -> '{outer}' ->> '{inner}' IS NOT NULL" for outer, inner in paths)
    return f"{stored} -> 'personal_data' IS NULL AND ({present})"


# The rows holding plain personal data: the candidates, filtered in SQL; recur.commands.legacy_encryption decodes them.
# The JSON is parsed once per row (a LATERAL alias), and only for rows of the two topics up to the bound.
PLAIN_ROWS = f"""
SELECT notification_id, originator_id, originator_version, topic, state
FROM recur_events CROSS JOIN LATERAL (SELECT convert_from(state, 'UTF8')::json AS stored) AS parsed
WHERE notification_id <= {BOUND} AND topic = ANY(%(topics)s) AND {_plain_condition("stored")}
ORDER BY notification_id
"""

_COUNT = f"""
SELECT count(*), count(DISTINCT originator_id), min(notification_id)
FROM recur_events CROSS JOIN LATERAL (SELECT convert_from(state, 'UTF8')::json AS stored) AS parsed
WHERE notification_id <= {BOUND} AND topic = ANY(%(topics)s) AND {_plain_condition("stored")}
"""

# Subscriptions started with a plain e-mail and not erased yet. The comparison with the normalized address is done in
# Python (recur.commands.subscriber_keys.normalized_email); SQL only narrows: an address of printable ASCII without
# blanks normalizes to its ASCII lower case (translate() is that, whatever the database's locale); any other comes
# back to be compared in Python.
_LEGACY_EMAILS = f"""
SELECT started.originator_id::text, started.stored -> 'subscriber' ->> 'email' FROM (
    SELECT originator_id, convert_from(state, 'UTF8')::json AS stored FROM recur_events
    WHERE notification_id <= {BOUND} AND topic = %(topic)s
) AS started
WHERE started.stored -> 'personal_data' IS NULL
  AND (translate(started.stored -> 'subscriber' ->> 'email', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
           = %(normalized)s
       OR started.stored -> 'subscriber' ->> 'email' ~ '[^!-~]')
  AND (%(producer_id)s::text IS NULL OR started.stored ->> 'producer_id' = %(producer_id)s::text)
  AND NOT EXISTS (SELECT 1 FROM subscriber_keys erased WHERE erased.subscription_id = started.originator_id
                  AND erased.sealed IS NULL)
"""


@dataclass(frozen=True)
class PlainPersonalData:
    """What still holds personal data in plain: how many events, of how many subscriptions, from which notification id."""

    events: int
    subscriptions: int
    first_id: int | None

    def describe(self) -> str:
        return f"{self.events} events of {self.subscriptions} subscriptions (from notification id {self.first_id})"


def count_plain(db: Database) -> PlainPersonalData:
    """The events still holding personal data in plain. When there are none, the bound drops to 0 (none can appear
    later), so the next check costs nothing."""
    with db.transaction() as cur:
        cur.execute(_COUNT, {"topics": personal_topics()})
        events, subscriptions, first = cur.fetchone()
        if not events:
            clear_bound(cur)
    return PlainPersonalData(int(events), int(subscriptions), None if first is None else int(first))


def clear_bound(cur: Any) -> None:
    """No event holds personal data in plain any more."""
    cur.execute("UPDATE legacy_personal_data SET plain_until = 0 WHERE plain_until <> 0")


def plain_emails(db: Database, normalized: str, producer_id: str | None) -> list[tuple[str, str]]:
    """(subscription id, e-mail as stored) of the subscriptions started before encryption, not erased, whose address may
    normalize to `normalized`, of `producer_id` (any producer's for None): the caller compares exactly."""
    from recur.domain.subscription import Subscription

    params = {"topic": get_topic(Subscription.SubscriptionStarted), "normalized": normalized, "producer_id": producer_id}
    return [(row[0], row[1]) for row in db.fetchall(_LEGACY_EMAILS, params)]


def legacy_warning(db: Database) -> str | None:
    """What an operator must read when events still hold personal data in plain; None when none do."""
    plain = count_plain(db)
    if not plain.events:
        return None
    return (f"{plain.describe()} hold personal data stored before encryption, in plain: an erasure hides it on load but "
            "cannot remove it from the stored rows. Run `recur audit encrypt-legacy` (see README, 'Events stored before "
            "encryption')")
