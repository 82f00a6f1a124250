"""When the billing scheduler must next look at each subscription (the aggregate says, in `Rescheduled`)."""

from __future__ import annotations

from typing import Any

from recur.contract.topics import SUBSCRIPTIONS
from recur.projections.base import Projection

billing_schedule = Projection("billing_schedule", [SUBSCRIPTIONS], ["rm_billing_schedule"])


@billing_schedule.on("Rescheduled")
def when_rescheduled(cur: Any, e: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO rm_billing_schedule (subscription_id, due_at) VALUES (%s, %s) "
        "ON CONFLICT (subscription_id) DO UPDATE SET due_at = EXCLUDED.due_at",
        (e["aggregate_id"], e["data"]["next_due_at"]),
    )
