-- The tamper-evident event log: every row of recur_events carries `chain_hash`, a SHA-256 over the row's
-- stored bytes, its notification id and the chain hash of the row before it in the notification log.
-- The definition (and the same computation in Python, which `recur audit verify` uses) is in
-- recur/commands/audit_chain.py; a test checks that this file holds the function written there, byte for byte.

-- On a fresh install this file runs before eventsourcing creates its table (recur up, recur migrate and the
-- tests call `open_event_store(..., create_table=True)` after migrating), so the table is created here exactly
-- as eventsourcing 9.5 creates it (its later CREATE ... IF NOT EXISTS statements then find it in place).
CREATE TABLE IF NOT EXISTS recur_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);
CREATE UNIQUE INDEX IF NOT EXISTS recur_events_notification_id_idx ON recur_events (notification_id ASC);

-- An upgrade: no event may be written while the existing ones are chained (writers take this same lock).
LOCK TABLE recur_events IN EXCLUSIVE MODE;

ALTER TABLE recur_events ADD COLUMN chain_hash bytea;

-- BEGIN recur_audit_link (recur/commands/audit_chain.py: LINK_FUNCTION)
CREATE FUNCTION recur_audit_link(previous bytea, notification_id bigint, originator_id uuid, originator_version bigint,
                                 topic text, state bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(
        previous
        || int8send(notification_id)
        || uuid_send(originator_id)
        || int8send(originator_version)
        || CASE WHEN topic IS NULL THEN int4send(-1)
                ELSE int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8') END
        || CASE WHEN state IS NULL THEN int4send(-1) ELSE int4send(octet_length(state)) || state END
    )
$$;
-- END recur_audit_link

-- The same link folded over rows in notification order: used once below to chain the existing rows.
CREATE AGGREGATE recur_audit_chain(bigint, uuid, bigint, text, bytea) (
    SFUNC = recur_audit_link,
    STYPE = bytea,
    INITCOND = '\x0000000000000000000000000000000000000000000000000000000000000000'
);

-- Rows stored before this migration are chained once, in notification order, from the same genesis (32 zero
-- bytes) as a fresh install: the chain of an upgraded database covers its whole history.
UPDATE recur_events AS event SET chain_hash = chained.chain_hash
FROM (
    SELECT notification_id,
           recur_audit_chain(notification_id, originator_id, originator_version, topic, state)
               OVER (ORDER BY notification_id ROWS UNBOUNDED PRECEDING) AS chain_hash
    FROM recur_events
) AS chained
WHERE event.notification_id = chained.notification_id;

-- Each row inserted from now on is linked to the head of the log as it is written. eventsourcing holds the
-- table's EXCLUSIVE lock for every save (so ids are issued and committed in one order), which makes the head
-- the row before it; the statement trigger takes that lock for any other writer, so none can fork the chain.
-- A row-level BEFORE trigger sees the rows an INSERT wrote before it: a save of several aggregates (one INSERT
-- of several rows) is chained row by row.
CREATE FUNCTION recur_audit_serialize() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE recur_events IN EXCLUSIVE MODE;
    RETURN NULL;
END $$;

CREATE FUNCTION recur_audit_chain_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_id bigint;
    head_hash bytea;
BEGIN
    SELECT notification_id, chain_hash INTO head_id, head_hash FROM recur_events ORDER BY notification_id DESC LIMIT 1;
    IF head_id >= NEW.notification_id THEN
        RAISE EXCEPTION 'recur_events is appended to in notification order: % is not after the last event, %',
            NEW.notification_id, head_id;
    END IF;
    NEW.chain_hash := recur_audit_link(
        coalesce(head_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
        NEW.notification_id, NEW.originator_id, NEW.originator_version, NEW.topic, NEW.state);
    RETURN NEW;
END $$;

CREATE TRIGGER recur_audit_serialize BEFORE INSERT ON recur_events
    FOR EACH STATEMENT EXECUTE FUNCTION recur_audit_serialize();
CREATE TRIGGER recur_audit_chain BEFORE INSERT ON recur_events
    FOR EACH ROW EXECUTE FUNCTION recur_audit_chain_row();

-- Chain heads recorded by `recur audit checkpoint` and the scheduler (hourly, and when it stops), and published
-- to the Kafka topic recur.audit.v1: an auditor who kept one can prove the history up to it was not rewritten.
CREATE TABLE audit_checkpoints (
    notification_id bigint PRIMARY KEY,
    chain_hash bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX audit_checkpoints_unpublished ON audit_checkpoints (notification_id) WHERE published_at IS NULL;
