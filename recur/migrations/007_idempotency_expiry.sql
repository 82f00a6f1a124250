-- Idempotency keys as Stripe keeps them (recur/commands/idempotency.py): they expire after 24 hours,
-- a claim names the process holding it and a lease (so a dead worker's claim can be taken over), and nothing in
-- the table is readable: the key is a SHA-256 hash, the response body is sealed with a key derived
-- from the Idempotency-Key, which is not stored.
-- Rows written before this migration hold whole responses in plain text (one-time api keys and
-- subscriber tokens among them): they are dropped; a client repeating such a request within a day
-- gets it run again, which every command but a create makes harmless.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys RENAME COLUMN key TO key_hash;
ALTER TABLE idempotency_keys DROP COLUMN body;
ALTER TABLE idempotency_keys
    ADD COLUMN sealed_body bytea,
    ADD COLUMN owner text NOT NULL,
    ADD COLUMN request_id text NOT NULL,
    ADD COLUMN log_position bigint NOT NULL,
    ADD COLUMN lease_until timestamptz NOT NULL,
    ADD COLUMN expires_at timestamptz NOT NULL;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
