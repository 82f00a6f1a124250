-- Events stored before migration 016 keep subscribers' personal data in plain JSON. `recur audit encrypt-legacy`
-- (recur/commands/legacy_encryption.py) seals them as the event store's mapper would and re-chains the log from the
-- first row it changed: the one sanctioned rewrite of history, recorded here so an auditor holding an older checkpoint
-- sees why it no longer matches.

-- Each rewrite: why, where it started, how many rows it changed, and the chain head before and after (the same
-- notification id: a rewrite changes rows in place, it neither adds nor removes any).
CREATE TABLE audit_rewrites (
    id bigserial PRIMARY KEY,
    reason text NOT NULL,
    first_changed_id bigint NOT NULL,
    rows_changed bigint NOT NULL,
    rows_rechained bigint NOT NULL,
    head_id bigint NOT NULL,
    head_hash_before bytea NOT NULL,
    head_hash_after bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A checkpoint taken before a rewrite, at or after its first changed row, stays recorded (it may be published, or
-- still waiting to be) and says which rewrite superseded it; the rewrite's own checkpoint after may then have the same
-- notification id, so the key becomes (notification id, hash), with one current checkpoint per notification id.
ALTER TABLE audit_checkpoints ADD COLUMN superseded_by bigint REFERENCES audit_rewrites (id);
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey;
ALTER TABLE audit_checkpoints ADD PRIMARY KEY (notification_id, chain_hash);
CREATE UNIQUE INDEX audit_checkpoints_current ON audit_checkpoints (notification_id) WHERE superseded_by IS NULL;

-- No event after `plain_until` holds personal data in plain: from 016 on, the mapper seals it. Found once here (a max()
-- PostgreSQL answers by reading back from the newest event to the last such row; 0 on a fresh install or when there is
-- none), so the checks made at start, by `recur audit verify` and by an erasure read only the events up to it.
-- `recur audit encrypt-legacy` sets it to 0 once it has sealed them all.
CREATE TABLE legacy_personal_data (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    plain_until bigint NOT NULL
);
INSERT INTO legacy_personal_data (plain_until)
SELECT coalesce(max(notification_id), 0) FROM (
    SELECT notification_id, convert_from(state, 'UTF8')::json AS stored FROM recur_events
    WHERE topic IN ('recur.domain.subscription:Subscription.SubscriptionStarted',
                    'recur.domain.subscription:Subscription.PaymentMethodChanged')
) AS personal
WHERE stored -> 'personal_data' IS NULL
  AND (stored -> 'subscriber' ->> 'name' IS NOT NULL OR stored -> 'subscriber' ->> 'email' IS NOT NULL
       OR stored -> 'subscriber' ->> 'country' IS NOT NULL OR stored -> 'payment_method' ->> 'brand' IS NOT NULL
       OR stored -> 'payment_method' ->> 'last4' IS NOT NULL);
