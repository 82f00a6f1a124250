-- Dead letters: what a projection or the relay could not handle, kept with its error until
-- `recur projections retry-dead` handles it after a fix (recur/consumers/dead_letters.py).
--
-- kind: 'failed'        a projection's handler raised on this event
--       'held'          a later event of an aggregate with a failed one, kept back so the read model
--                       never applies an aggregate's events out of order (applied by retry-dead, in order)
--       'unpublishable' the relay could not encode this event (nor publish it)
--       'malformed'     a message on a recur topic that is not a recur event
-- The event is kept as JSON text, not jsonb: jsonb refuses \u0000 and lone surrogates, which are
-- often why the event could not be applied in the first place.
CREATE TABLE dead_letters (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    projection text,
    kind text NOT NULL CHECK (kind IN ('failed', 'held', 'unpublishable', 'malformed')),
    topic text,
    partition integer,
    kafka_offset bigint,
    notification_id bigint,
    aggregate_id uuid,
    version integer,
    event_name text,
    event text NOT NULL,
    error_class text NOT NULL,
    error_message text NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 1,
    resolved_at timestamptz,
    published_at timestamptz
);

-- One row per event and projection (redeliveries update it), per event the relay held, per odd message.
CREATE UNIQUE INDEX dead_letters_projection_event ON dead_letters (projection, aggregate_id, version) WHERE projection IS NOT NULL;
CREATE UNIQUE INDEX dead_letters_relay_event ON dead_letters (notification_id) WHERE consumer = 'relay';
CREATE UNIQUE INDEX dead_letters_message ON dead_letters (consumer, topic, partition, kafka_offset) WHERE kind = 'malformed';
CREATE INDEX dead_letters_unresolved ON dead_letters (consumer, projection, aggregate_id) WHERE resolved_at IS NULL;
CREATE INDEX dead_letters_unpublished ON dead_letters (id) WHERE published_at IS NULL;

-- The version guard learns "blocked": from this version on, the aggregate's events are held for this
-- projection (dead letters) until retry-dead applies them in order. NULL: not blocked.
ALTER TABLE projection_versions ADD COLUMN blocked_at integer;

-- A subscription whose billing raised an unexpected error waits `retry_at` before the scheduler tries
-- again (doubling each time), instead of failing every second and holding up the others.
CREATE TABLE scheduler_failures (
    subscription_id uuid PRIMARY KEY,
    error_class text NOT NULL,
    error_message text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at timestamptz NOT NULL DEFAULT now(),
    retry_at timestamptz NOT NULL
);
