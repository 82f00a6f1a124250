"""Report schedules as producers list them (the scheduler finds its due work here too).

A deleted schedule keeps its row with `deleted_at`, so a rebuild and the live table agree row for row; every
query leaves deleted rows out.
"""

from __future__ import annotations

import json
from typing import Any

from recur.contract.topics import CATALOG
from recur.projections.base import Projection

report_schedules = Projection("report_schedules", [CATALOG], ["rm_report_schedules"])


@report_schedules.on("ReportScheduleCreated")
def when_report_schedule_created(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute(
        "INSERT INTO rm_report_schedules (id, producer_id, report, frequency, format, recipients, time_zone, created_at, version) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (e["aggregate_id"], d["producer_id"], d["report"], d["frequency"], d["format"], json.dumps(d["recipients"]), d["time_zone"],
         d["created_at"], e["version"]),
    )


@report_schedules.on("ReportScheduleDeleted")
def when_report_schedule_deleted(cur: Any, e: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_report_schedules SET deleted_at = %s, version = %s WHERE id = %s",
                (e["data"]["at"], e["version"], e["aggregate_id"]))
