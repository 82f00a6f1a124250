"""Every projection recur runs, by name."""

from recur.projections.base import Projection
from recur.projections.billing_schedule import billing_schedule
from recur.projections.catalog import catalog
from recur.projections.notifier import notifier
from recur.projections.report_schedules import report_schedules
from recur.projections.sales import sales
from recur.projections.status_history import status_history
from recur.projections.subscriptions import subscriptions
from recur.projections.webhook_endpoints import webhook_endpoints
from recur.projections.webhooks import webhooks

# The read models: the consumer group `recur-projections` applies them, `recur projections rebuild` rebuilds them.
PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (catalog, subscriptions, billing_schedule, sales, status_history, report_schedules, webhook_endpoints)
}
# Everything a consumer group applies, read models, the notifier and the webhooks group alike: lag, readiness and dead
# letters cover them all. Neither of the last two is ever rebuilt: their rows are decisions to send, not a view.
CONSUMED: dict[str, Projection] = {**PROJECTIONS, notifier.name: notifier, webhooks.name: webhooks}
