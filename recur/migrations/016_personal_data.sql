-- Crypto-shredding (issue 13): one data key per subscription, wrapped by the master key; the keyed hash of each
-- subscriber's e-mail, so an erasure finds their subscriptions once the events hold only ciphertext; the erasures made.

-- A subscription's data key (AES-256-GCM), sealed under the master key ("subscriber data" purpose) and bound to the
-- subscription id. Erasure sets `sealed` to NULL: the events' ciphertext can never be opened again, while the stored
-- rows (and so the hash chain over them) stay as they are. A row with `sealed` NULL and no key ever written marks a
-- subscription stored before encryption that was erased (its old events' plain values are hidden on load).
CREATE TABLE subscriber_keys (
    subscription_id uuid PRIMARY KEY,
    sealed bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    CHECK ((sealed IS NULL) = (destroyed_at IS NOT NULL))
);

-- HMAC-SHA256 of the normalized e-mail under a key derived from the master key ("subscriber e-mail lookup"): finds a
-- person's subscriptions without keeping their address. Dropped with the data key at erasure.
CREATE TABLE subscriber_emails (
    email_hash text NOT NULL,
    subscription_id uuid NOT NULL,
    producer_id uuid NOT NULL,
    PRIMARY KEY (email_hash, subscription_id)
);
CREATE INDEX subscriber_emails_subscription ON subscriber_emails (subscription_id);

-- Each erasure request honoured: who asked, for which (hashed) address, which subscriptions it reached.
CREATE TABLE erasures (
    id uuid PRIMARY KEY,
    email_hash text NOT NULL,
    subscription_ids uuid[] NOT NULL,
    producer_id uuid,                          -- the producer who asked; null for an admin
    actor jsonb NOT NULL,
    erased_at timestamptz NOT NULL
);

-- Read models keep the subscription with its personal data gone.
ALTER TABLE rm_subscriptions ALTER COLUMN subscriber_name DROP NOT NULL;
ALTER TABLE rm_subscriptions ALTER COLUMN subscriber_email DROP NOT NULL;
ALTER TABLE rm_subscriptions ADD COLUMN erased boolean NOT NULL DEFAULT false;
ALTER TABLE mail_subscribers ALTER COLUMN name DROP NOT NULL;
ALTER TABLE mail_subscribers ALTER COLUMN email DROP NOT NULL;
-- An outbox row of an erased subscriber keeps its kind, times and status; recipient and message are blanked.
ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_status_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_status_check CHECK (status IN ('pending', 'sent', 'failed', 'erased'));
