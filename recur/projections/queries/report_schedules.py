"""Report schedules as the API lists them, with when each one's next report is due.

`next_report_at` is the end of the oldest period not yet reported: the scheduler's progress row once it has seen
the schedule, before that the end of the period the schedule was created in (the same domain function the
scheduler starts from).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recur.db import Database
from recur.domain.reporting import first_period_end
from recur.projections.queries import After, Page, page_of
from recur.projections.queries.rows import dict_rows

COLUMNS = (
    "s.id, s.producer_id, s.report, s.frequency, s.format, s.recipients, s.time_zone, s.created_at, s.version, "
    "p.next_period_end"
)


def _with_next_report_at(row: dict[str, Any]) -> dict[str, Any]:
    progress = row.pop("next_period_end")
    row["next_report_at"] = progress or first_period_end(row["created_at"], row["frequency"], row["time_zone"])
    return row


def list_report_schedules(db: Database, producer_id: str | None, after: After | None, limit: int) -> Page:
    """A producer's schedules (everyone's when `producer_id` is None), oldest first; deleted ones are gone."""
    sql = (
        f"SELECT {COLUMNS} FROM rm_report_schedules s LEFT JOIN report_schedule_progress p ON p.schedule_id = s.id "
        "WHERE s.deleted_at IS NULL"
    )
    params: list[Any] = []
    if producer_id:
        sql += " AND s.producer_id = %s"
        params.append(producer_id)
    if after:
        sql += " AND (s.created_at, s.id) > (%s::timestamptz, %s::uuid)"
        params.extend(after)
    sql += " ORDER BY s.created_at, s.id LIMIT %s"
    params.append(limit + 1)
    return page_of([_with_next_report_at(row) for row in dict_rows(db, sql, params)], limit, "created_at", "id")


def next_period_end_of(db: Database, schedule_id: str) -> datetime | None:
    """The end of the next period the scheduler will report for this schedule; None before it first saw it."""
    row = db.fetchone("SELECT next_period_end FROM report_schedule_progress WHERE schedule_id = %s", (schedule_id,))
    return row[0] if row else None
