"""How many subscriptions were active at given instants: the cancellation dashboard's denominators.

A subscription is active at an instant `t` when one of its status-history rows (`rm_status_history`) in a status of
`ALIVE`, on the product and plan asked if any, has `from_at <= t` and no `to_at` or `to_at > t`. It counts once even
when two such rows cover `t` (a late fact, recorded with an earlier time than the status before it, makes them overlap).

The dashboard of a year asks for about 380 instants (its start, each month's start, each day's 00:00). One join of the
history per instant read the producer's whole history 380 times (6 s at 1,000,000 events); `active_at` reads it once.
"""

from __future__ import annotations

from datetime import datetime
from itertools import accumulate
from typing import Any

from recur.db import Database

# The index of migration 018 (rm_status_history_alive) holds the rows in these statuses only: change both together.
ALIVE = ("trialing", "active", "past_due")

# Each alive interval [from_at, to_at) adds one at its start and takes one away at its end: the count at an instant is
# the sum of the changes at or before it. So that a subscription counts once where its intervals overlap, a running
# maximum of the ends of its earlier intervals (`covered_until`, in order of start) trims each interval to the part no
# earlier one covers: the pieces of a subscription are disjoint and cover what its intervals cover.
# `width_bucket(at - 1 us, instants)` is the number of instants before `at` (timestamps are whole microseconds), the
# index of the first instant a change counts at; one pass groups the starts by it and the ends by it (GROUPING SETS).
# Intervals that end by the first instant or start after the last cannot change a count: they are not read. The index
# gives the rows in the window's order with every column read: no sort, and no table page once vacuumed.
CHANGES = """
SELECT grouping(piece.starts), piece.starts, piece.ends, count(*)
FROM (
    SELECT width_bucket(greatest(alive.from_at, alive.covered_until) - interval '1 microsecond', asked.instants) AS starts,
           width_bucket(alive.to_at - interval '1 microsecond', asked.instants) AS ends
    FROM (SELECT %s::timestamptz[] AS instants) asked,
    LATERAL (
        SELECT h.from_at, h.to_at,
               max(coalesce(h.to_at, 'infinity')) OVER (PARTITION BY h.subscription_id ORDER BY h.from_at
                                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
        FROM rm_status_history h
        WHERE h.producer_id = %s AND h.status = ANY(%s) AND h.from_at <= %s AND (h.to_at IS NULL OR h.to_at > %s){filters}
    ) alive
    WHERE greatest(alive.from_at, alive.covered_until) < coalesce(alive.to_at, 'infinity')
) piece
GROUP BY GROUPING SETS ((piece.starts), (piece.ends))
"""


def product_plan_filter(alias: str, product_id: str | None, plan_id: str | None) -> tuple[str, list[Any]]:
    """The SQL conditions (and their parameters) that narrow rows of `alias` to a product and a plan, when asked."""
    sql, params = "", []
    if product_id:
        sql += f" AND {alias}.product_id = %s"
        params.append(product_id)
    if plan_id:
        sql += f" AND {alias}.plan_id = %s"
        params.append(plan_id)
    return sql, params


def active_at(db: Database, producer_id: str, moments: list[datetime], product_id: str | None = None,
              plan_id: str | None = None) -> list[int]:
    """The number of the producer's subscriptions active at each moment (see the module), in the order given."""
    if not moments:
        return []
    instants = sorted(set(moments))
    extra, params = product_plan_filter("h", product_id, plan_id)
    rows = db.fetchall(CHANGES.format(filters=extra), [instants, producer_id, list(ALIVE), instants[-1], instants[0], *params])
    changes_from = [0] * (len(instants) + 1)  # by the index of the first instant a change counts at; the last: none
    for ends, starts_before, ends_before, count in rows:
        if not ends:
            changes_from[starts_before] += count
        elif ends_before is not None:  # an interval still open never ends
            changes_from[ends_before] -= count
    counts = dict(zip(instants, accumulate(changes_from[: len(instants)]), strict=True))
    return [counts[moment] for moment in moments]
