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
def when_report_schedule_created(cur: Any, event: dict[str, Any]) -> None:
    data = event["data"]
    cur.execute(
        "INSERT INTO rm_report_schedules (id, producer_id, report, frequency, format, recipients, time_zone, created_at, version) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (event["aggregate_id"], data["producer_id"], data["report"], data["frequency"], data["format"], json.dumps(data["recipients"]),
         data["time_zone"], data["created_at"], event["version"]),
    )


@report_schedules.on("ReportScheduleDeleted")
def when_report_schedule_deleted(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_report_schedules SET deleted_at = %s, version = %s WHERE id = %s",
                (event["data"]["at"], event["version"], event["aggregate_id"]))
