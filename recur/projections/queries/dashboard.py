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

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
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


def active_at(db: Database, producer_id: str, moments: list[datetime], product_id: str | None = None,
              plan_id: str | None = None) -> list[int]:
    if not moments:
        return []
    extra, params = _filters("h", product_id, plan_id)
    rows = db.fetchall(
        "SELECT m.i, count(DISTINCT h.subscription_id) FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS m(t, i) "
        "LEFT JOIN rm_status_history h ON h.producer_id = %s AND h.status = ANY(%s) AND h.from_at <= m.t "
        f"AND (h.to_at IS NULL OR h.to_at > m.t){extra} GROUP BY m.i ORDER BY m.i",
        [moments, producer_id, list(ALIVE), *params],
    )
    return [int(r[1]) for r in rows]


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


def cancellation_dashboard(db: Database, producer_id: str, start: datetime, end: datetime,
                           product_id: str | None = None, plan_id: str | None = None) -> dict[str, Any]:
    extra, params = _filters("s", product_id, plan_id)
    cancelled = [
        {"at": r[0], "origin": r[1], "started_at": r[2], "paid_recurrences": r[3], "total_paid": r[4], "currency": r[5]}
        for r in db.fetchall(
            "SELECT s.cancelled_at, s.cancellation_origin, s.started_at, s.paid_recurrences, s.total_paid, s.currency "
            f"FROM rm_subscriptions s WHERE s.producer_id = %s AND s.cancelled_at >= %s AND s.cancelled_at < %s{extra} "
            "ORDER BY s.cancelled_at",
            [producer_id, start, end, *params],
        )
    ]
    months = _month_starts(start, end)
    days = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        days.append(day)
        day += timedelta(days=1)
    counts = active_at(db, producer_id, [start, *[max(m, start) for m in months], *days], product_id, plan_id)
    active_start, month_active, day_active = counts[0], counts[1 : 1 + len(months)], counts[1 + len(months) :]

    monthly = []
    for i, month in enumerate(months):
        month_end = months[i + 1] if i + 1 < len(months) else end
        inside = [c for c in cancelled if max(month, start) <= c["at"] < min(month_end, end)]
        monthly.append({
            "month": month.strftime("%Y-%m"),
            "active_at_start": month_active[i],
            "cancellations": len(inside),
            "rate": _rate(len(inside), month_active[i]),
            "by_origin": _by_origin(inside),
        })
    daily = []
    for i, d in enumerate(days):
        inside = [c for c in cancelled if d <= c["at"] < d + timedelta(days=1)]
        daily.append({"date": d.date().isoformat(), "cancellations": len(inside), "by_origin": _by_origin(inside),
                      "active": day_active[i]})

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
