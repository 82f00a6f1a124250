"""Every projection recur runs, by name."""

from recur.projections.base import Projection
from recur.projections.billing_schedule import billing_schedule
from recur.projections.catalog import catalog
from recur.projections.report_schedules import report_schedules
from recur.projections.sales import sales
from recur.projections.status_history import status_history
from recur.projections.subscriptions import subscriptions

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (catalog, subscriptions, billing_schedule, sales, status_history, report_schedules)
}
