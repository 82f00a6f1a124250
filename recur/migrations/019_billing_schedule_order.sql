-- The billing run claims due subscriptions in a total order, (due_at, subscription_id), and each pass remembers where it
-- got to (recur/billing_claims.py, ClaimCursor). Ordered by due_at alone, every claim of a pass scanned again the rows it
-- had already billed, which stay due until the read model catches up: 100,000 renewals at one instant (the 1st of the
-- month) made the run's claims quadratic. This index serves that order and the queries of the one it replaces.
CREATE INDEX rm_billing_schedule_due_order ON rm_billing_schedule (due_at, subscription_id) WHERE due_at IS NOT NULL;
DROP INDEX rm_billing_schedule_due;
