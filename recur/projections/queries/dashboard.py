"""The cancellation dashboard, computed from read models (formulas in the README).

- cancellations: subscriptions cancelled in [start, end), by origin.
- active at an instant: subscriptions `trialing`, `active` or `past_due` at that instant
  (from the status history). cancellation_rate = cancellations / active at `start` (0 if none).
- monthly: for each calendar month overlapping the period, active at the month's start (or at
  `start`, whichever is later) and the cancellations inside the month and the period.
- daily: cancellations each day, and subscriptions active at 00:00 of that day. Days and months are those of the
  UTC offset `start` carries: the API passes UTC instants (recur.http.query), so its days and months are UTC ones.
- lt_months: mean of (cancelled_at - started_at) in months of 30.4375 days, over those cancelled in
  the period; ltv: mean total paid by them (integer minor units, rounded half up);
  avg_paid_recurrences: mean of their paid charges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from recur.db import Database
from recur.domain.subscription import ORIGINS
from recur.projections.queries.active_subscriptions import active_at, product_plan_filter

DAYS_PER_MONTH = 30.4375


class Cancellation(NamedTuple):
    """One subscription cancelled in the period, as the dashboard's figures need it."""

    day: int  # index of the day it was cancelled in, in the period's days
    month: int  # index of its month, in the period's months
    origin: str | None
    lifetime_us: int  # cancelled_at - started_at, in microseconds
    paid_recurrences: int
    total_paid: int
    currency: str


# Each cancellation's day and month are found here, by `width_bucket` over the days' and months' starts (both tile the
# period), and its lifetime is computed here in whole microseconds: Python receives small numbers rather than two
# timestamps per cancellation to parse (a year has thousands) and to test against each of its 365 days.
CANCELLED = """
SELECT width_bucket(s.cancelled_at, %s::timestamptz[]) - 1, width_bucket(s.cancelled_at, %s::timestamptz[]) - 1,
       s.cancellation_origin, (extract(epoch FROM s.cancelled_at - s.started_at) * 1000000)::bigint,
       s.paid_recurrences, s.total_paid, s.currency
FROM rm_subscriptions s
WHERE s.producer_id = %s AND s.cancelled_at >= %s AND s.cancelled_at < %s{filters}
ORDER BY s.cancelled_at
"""


def _rate(cancellations: int, active: int) -> float:
    return round(cancellations / active, 4) if active else 0.0


def _by_origin(cancelled: list[Cancellation]) -> dict[str, int]:
    counts = dict.fromkeys(ORIGINS, 0)
    for cancellation in cancelled:
        if cancellation.origin in counts:
            counts[cancellation.origin] += 1
    return counts


def _month_starts(start: datetime, end: datetime) -> list[datetime]:
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = []
    while month < end:
        starts.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return starts


def _days(start: datetime, end: datetime) -> list[datetime]:
    """00:00 of each day from `start`'s day until `end` (in `start`'s time zone): the last one ends at or after `end`."""
    days = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _cancelled(db: Database, producer_id: str, start: datetime, end: datetime, months: list[datetime],
               days: list[datetime], product_id: str | None, plan_id: str | None) -> list[Cancellation]:
    """The subscriptions cancelled in [start, end), in the order of their cancellation."""
    if start >= end:
        return []
    extra, params = product_plan_filter("s", product_id, plan_id)
    month_bounds = [max(month, start) for month in months]  # each month's part of the period begins there
    rows = db.fetchall(CANCELLED.format(filters=extra), [days, month_bounds, producer_id, start, end, *params])
    return [Cancellation._make(row) for row in rows]


def _grouped(cancelled: list[Cancellation], size: int, index_of: Callable[[Cancellation], int]) -> list[list[Cancellation]]:
    """The cancellations of each of `size` days or months, by the index `index_of` gives."""
    groups: list[list[Cancellation]] = [[] for _ in range(size)]
    for cancellation in cancelled:
        groups[index_of(cancellation)].append(cancellation)
    return groups


def _monthly(months: list[datetime], active: list[int], cancelled: list[Cancellation]) -> list[dict[str, Any]]:
    """Each month's part of the period: active at its beginning, cancellations inside it, their rate and origins."""
    inside_each = _grouped(cancelled, len(months), lambda cancellation: cancellation.month)
    return [
        {
            "month": month.strftime("%Y-%m"),
            "active_at_start": active_then,
            "cancellations": len(inside),
            "rate": _rate(len(inside), active_then),
            "by_origin": _by_origin(inside),
        }
        for month, active_then, inside in zip(months, active, inside_each, strict=True)
    ]


def _daily(days: list[datetime], active: list[int], cancelled: list[Cancellation]) -> list[dict[str, Any]]:
    """Each day: cancellations inside it, by origin, and the subscriptions active at its 00:00."""
    inside_each = _grouped(cancelled, len(days), lambda cancellation: cancellation.day)
    return [
        {"date": day.date().isoformat(), "cancellations": len(inside), "by_origin": _by_origin(inside), "active": active_then}
        for day, active_then, inside in zip(days, active, inside_each, strict=True)
    ]


def cancellation_dashboard(db: Database, producer_id: str, start: datetime, end: datetime,
                           product_id: str | None = None, plan_id: str | None = None) -> dict[str, Any]:
    """The producer's dashboard of [start, end), of one product or plan if asked: two queries, whatever the period."""
    months = _month_starts(start, end)
    days = _days(start, end)
    cancelled = _cancelled(db, producer_id, start, end, months, days, product_id, plan_id)
    counts = active_at(db, producer_id, [start, *[max(m, start) for m in months], *days], product_id, plan_id)
    active_start, month_active, day_active = counts[0], counts[1 : 1 + len(months)], counts[1 + len(months) :]
    monthly = _monthly(months, month_active, cancelled)
    daily = _daily(days, day_active, cancelled)

    n = len(cancelled)
    # The most common currency among them; on a tie the first in alphabetical order (a set's order varies by process).
    currency = max(sorted({c.currency for c in cancelled}), key=lambda cur: sum(c.currency == cur for c in cancelled), default="BRL")
    # lifetime_us / 10**6 is timedelta.total_seconds() of the same lifetime, to the last bit.
    lt = sum(c.lifetime_us / 10**6 / 86400 / DAYS_PER_MONTH for c in cancelled) / n if n else 0.0
    ltv = (Decimal(sum(c.total_paid for c in cancelled if c.currency == currency)) /
           max(1, sum(c.currency == currency for c in cancelled))).quantize(Decimal(1), ROUND_HALF_UP)
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
        "avg_paid_recurrences": round(sum(c.paid_recurrences for c in cancelled) / n, 2) if n else 0.0,
    }
