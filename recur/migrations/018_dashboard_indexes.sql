-- Indexes for the cancellation dashboard (recur/projections/queries/dashboard.py and active_subscriptions.py).

-- The subscriptions active at each instant the dashboard shows (the period's start, each month's start, each day's
-- 00:00: about 380 for a year) are counted in one pass over the producer's status history, read in order of
-- subscription and start (`active_subscriptions.CHANGES`). This index holds exactly the rows in an active status, in
-- that order, with every column the pass reads: the pass needs no sort, and no table page where the visibility map
-- is set. Its predicate is `active_subscriptions.ALIVE`: the two change together.
CREATE INDEX rm_status_history_alive ON rm_status_history (producer_id, subscription_id, from_at)
    INCLUDE (to_at, product_id, plan_id)
    WHERE status IN ('trialing', 'active', 'past_due');

-- Read only by the former count, which joined the history once per instant by (producer_id, from_at).
DROP INDEX rm_status_history_producer;

-- The period's cancellations with every column the dashboard reads (a year of the largest producer: thousands, each
-- on its own table page). Only cancelled subscriptions are in it, so the renewals that update the others never
-- write to it. It replaces the same index without the included columns.
CREATE INDEX rm_subscriptions_cancellations ON rm_subscriptions (producer_id, cancelled_at)
    INCLUDE (cancellation_origin, started_at, paid_recurrences, total_paid, currency, product_id, plan_id)
    WHERE cancelled_at IS NOT NULL;
DROP INDEX rm_subscriptions_cancelled;
