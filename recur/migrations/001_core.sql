-- Plumbing outside the event store: idempotent requests, relay and projection positions.
CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status_code integer,
    body jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TABLE relay_position (
    name text PRIMARY KEY,
    notification_id bigint NOT NULL,
    broker_epoch text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last notification id the relay published to each partition: with the projections'
-- positions below, this says whether read models have caught up, independent of broker offsets
-- (which an empty, restarted broker forgets).
CREATE TABLE relay_partitions (
    topic text NOT NULL,
    partition integer NOT NULL,
    last_notification_id bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

CREATE TABLE projection_positions (
    projection text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    last_notification_id bigint NOT NULL,
    last_event_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);

-- Per-aggregate version guard: an event is applied at most once per projection.
CREATE TABLE projection_versions (
    projection text NOT NULL,
    aggregate_id uuid NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (projection, aggregate_id)
);
