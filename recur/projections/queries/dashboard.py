"""The cancellation dashboard, computed from read models (formulas in the README).

- cancellations: subscriptions cancelled in [start, end), by origin.
- active at an instant: subscriptions `trialing`, `active` or `past_due` at that instant
  (from the status history). cancellation_rate = cancellations / active at `start` (0 if none).
- monthly: for each calendar month overlapping the period, active at the month's start (or at
  `start`, whichever is later) and the cancellations inside the month and the period.
- daily: cancellations each day, and subscriptions active at 00:00 UTC of that day.
- lt_months: mean of (cancelled_at - started_at) in months of 30.4375 days, over those cancelled in
  the period; ltv: mean total paid by them (integer minor units, rounded half up);
  avg_paid_recurrences: mean of their paid charges.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import Any

from recur.db import Database
from recur.domain.subscription import ORIGINS

ALIVE = ("trialing", "active", "past_due")
DAYS_PER_MONTH = 30.4375


def _filters(alias: str, product_id: str | None, plan_id: str | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    if product_id:
        sql += f" AND {alias}.product_id = %s"
        params.append(product_id)
    if plan_id:
        sql += f" AND {alias}.plan_id = %s"
        params.append(plan_id)
    return sql, params


# The subscriptions alive at every instant asked, in one pass over the producer's status history. Each alive interval
# [from_at, to_at) adds one at its start and takes one away at its end; the count at an instant is the sum of the
# changes at or before it. A subscription counts once even where two of its intervals overlap (a late fact recorded
# with an earlier time can make them overlap): a running maximum of the ends of its earlier intervals (`covered_until`)
# trims each interval to the part no earlier one covers, so its pieces are disjoint and their union is unchanged.
# `width_bucket(at - 1 us, instants)` is the number of instants before `at` (timestamps are whole microseconds): the
# index of the first instant the change counts at. Intervals that end by the first instant or start after the last
# cannot change any count, so they are not read. Migration 018's index gives the rows in the window's order with every
# column read, so the pass needs no sort and no table page.
_ALIVE_CHANGES = """
WITH alive AS (
    SELECT h.from_at, h.to_at,
           max(coalesce(h.to_at, 'infinity')) OVER (PARTITION BY h.subscription_id ORDER BY h.from_at
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
    FROM rm_status_history h
    WHERE h.producer_id = %s AND h.status = ANY(%s) AND h.from_at <= %s AND (h.to_at IS NULL OR h.to_at > %s){filters}
), pieces AS (
    SELECT greatest(from_at, covered_until) AS from_at, to_at FROM alive
    WHERE greatest(from_at, covered_until) < coalesce(to_at, 'infinity')
), changes AS (
    SELECT from_at AS at, 1 AS delta FROM pieces
    UNION ALL
    SELECT to_at, -1 FROM pieces WHERE to_at IS NOT NULL
)
SELECT width_bucket(at - interval '1 microsecond', %s::timestamptz[]), sum(delta) FROM changes GROUP BY 1
"""


def active_at(db: Database, producer_id: str, moments: list[datetime], product_id: str | None = None,
              plan_id: str | None = None) -> list[int]:
    """How many subscriptions were alive (`ALIVE`) at each moment, in the order given.

    A subscription counts at `t` when one of its status-history rows in an alive status (and on the product and plan
    asked, if any) has `from_at <= t` and no `to_at` or `to_at > t`. One query for all the moments, whatever their
    number (see `_ALIVE_CHANGES`): the dashboard of a year asks for about 380 of them.
    """
    if not moments:
        return []
    instants = sorted(set(moments))
    extra, params = _filters("h", product_id, plan_id)
    rows = db.fetchall(
        _ALIVE_CHANGES.format(filters=extra),
        [producer_id, list(ALIVE), instants[-1], instants[0], *params, instants],
    )
    changes_from = {int(first): int(delta) for first, delta in rows}
    running = accumulate(changes_from.get(index, 0) for index in range(len(instants)))
    counts = dict(zip(instants, running, strict=True))
    return [counts[moment] for moment in moments]


def _rate(cancellations: int, active: int) -> float:
    return round(cancellations / active, 4) if active else 0.0


def _by_origin(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(ORIGINS, 0)
    for r in rows:
        if r["origin"] in counts:
            counts[r["origin"]] += 1
    return counts


def _month_starts(start: datetime, end: datetime) -> list[datetime]:
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = []
    while month < end:
        starts.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return starts


def _days(start: datetime, end: datetime) -> list[datetime]:
    """00:00 of each day from `start`'s day until `end` (in `start`'s time zone)."""
    days = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _cancelled(db: Database, producer_id: str, start: datetime, end: datetime, product_id: str | None,
               plan_id: str | None) -> list[dict[str, Any]]:
    """The subscriptions cancelled in [start, end), in the order of their cancellation."""
    extra, params = _filters("s", product_id, plan_id)
    return [
        {"at": r[0], "origin": r[1], "started_at": r[2], "paid_recurrences": r[3], "total_paid": r[4], "currency": r[5]}
        for r in db.fetchall(
            "SELECT s.cancelled_at, s.cancellation_origin, s.started_at, s.paid_recurrences, s.total_paid, s.currency "
            f"FROM rm_subscriptions s WHERE s.producer_id = %s AND s.cancelled_at >= %s AND s.cancelled_at < %s{extra} "
            "ORDER BY s.cancelled_at",
            [producer_id, start, end, *params],
        )
    ]


def _within(windows: list[tuple[datetime, datetime]], cancelled: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The cancellations inside each window [from, to). The windows are in time order and do not overlap (the
    months, the days), so each cancellation is placed by one binary search rather than tested against every window:
    a year has 365 days and may have thousands of cancellations."""
    starts = [window_start for window_start, _ in windows]
    inside: list[list[dict[str, Any]]] = [[] for _ in windows]
    for cancellation in cancelled:
        index = bisect_right(starts, cancellation["at"]) - 1
        if index >= 0 and cancellation["at"] < windows[index][1]:
            inside[index].append(cancellation)
    return inside


def _monthly(months: list[datetime], start: datetime, end: datetime, active: list[int],
             cancelled: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each month's part of the period: active at its beginning, cancellations inside it, their rate and origins."""
    bounds = [max(month, start) for month in months] + [end]  # every month after the first starts inside the period
    windows = list(zip(bounds, bounds[1:], strict=False))
    return [
        {
            "month": month.strftime("%Y-%m"),
            "active_at_start": active_then,
            "cancellations": len(inside),
            "rate": _rate(len(inside), active_then),
            "by_origin": _by_origin(inside),
        }
        for month, active_then, inside in zip(months, active, _within(windows, cancelled), strict=True)
    ]


def _daily(days: list[datetime], active: list[int], cancelled: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each day: cancellations inside it, by origin, and the subscriptions active at its 00:00."""
    windows = [(day, day + timedelta(days=1)) for day in days]
    return [
        {"date": day.date().isoformat(), "cancellations": len(inside), "by_origin": _by_origin(inside), "active": active_then}
        for day, active_then, inside in zip(days, active, _within(windows, cancelled), strict=True)
    ]


def cancellation_dashboard(db: Database, producer_id: str, start: datetime, end: datetime,
                           product_id: str | None = None, plan_id: str | None = None) -> dict[str, Any]:
    cancelled = _cancelled(db, producer_id, start, end, product_id, plan_id)
    months = _month_starts(start, end)
    days = _days(start, end)
    counts = active_at(db, producer_id, [start, *[max(m, start) for m in months], *days], product_id, plan_id)
    active_start, month_active, day_active = counts[0], counts[1 : 1 + len(months)], counts[1 + len(months) :]
    monthly = _monthly(months, start, end, month_active, cancelled)
    daily = _daily(days, day_active, cancelled)

    n = len(cancelled)
    currency = max({c["currency"] for c in cancelled}, key=lambda cur: sum(c["currency"] == cur for c in cancelled), default="BRL")
    lt = sum((c["at"] - c["started_at"]).total_seconds() / 86400 / DAYS_PER_MONTH for c in cancelled) / n if n else 0.0
    ltv = (Decimal(sum(c["total_paid"] for c in cancelled if c["currency"] == currency)) /
           max(1, sum(c["currency"] == currency for c in cancelled))).quantize(Decimal(1), ROUND_HALF_UP)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "cancellations": n,
        "cancellation_rate": _rate(n, active_start),
        "active_at_start": active_start,
        "by_origin": _by_origin(cancelled),
        "monthly": monthly,
        "daily": daily,
        "lt_months": round(lt, 2),
        "ltv": {"amount": int(ltv), "currency": currency},
        "avg_paid_recurrences": round(sum(c["paid_recurrences"] for c in cancelled) / n, 2) if n else 0.0,
    }
