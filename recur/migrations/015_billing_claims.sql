-- Which billing scheduler is working on which due subscription (recur/billing_claims.py). Several schedulers (API
-- workers, `recur bill`, the loop of `recur up`, on one host or many) claim due work in batches: one statement claims a
-- batch (FOR UPDATE SKIP LOCKED on the schedule rows, the primary key here as arbiter), instead of one advisory-lock
-- round trip per subscription. A claim is a lease: a scheduler that dies leaves claims that expire, and the next pass
-- takes them over. `lease_until` is the database's wall clock, never the sandbox clock (which stands still).
CREATE TABLE billing_claims (
    subscription_id uuid PRIMARY KEY,
    owner text NOT NULL,
    lease_until timestamptz NOT NULL
);
CREATE INDEX billing_claims_owner ON billing_claims (owner);
