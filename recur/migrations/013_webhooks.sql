-- Webhooks (issue 11): sealed signing secrets, the endpoints' read model, the recur-webhooks consumer group's own
-- state, the deliveries, and the master key's canary.

-- The master key (RECUR_MASTER_KEY) is checked at every start against this sealed canary, written by the first
-- process that had a key: a process given another key stops with a clear error instead of reading garbage.
CREATE TABLE master_key_check (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key_id text NOT NULL,                     -- the key's fingerprint (recur.sealing.MasterKey.key_id), never the key
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Webhook signing secrets, sealed with AES-GCM under a key derived from the master key and bound to (endpoint, id).
-- Events name a secret by its id only. A row whose event was never stored (a failed save) names no endpoint's secret.
CREATE TABLE webhook_secrets (
    id text PRIMARY KEY,
    endpoint_id uuid NOT NULL,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id);

-- Webhook endpoints as producers list them (a read model of the WebhookEndpoint aggregate; no secret here).
CREATE TABLE rm_webhook_endpoints (
    id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    url text NOT NULL,
    event_types jsonb NOT NULL,
    description text,
    status text NOT NULL,
    disabled_reason text,
    created_at timestamptz NOT NULL,
    previous_secret_valid_until timestamptz,
    deleted_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX rm_webhook_endpoints_producer ON rm_webhook_endpoints (producer_id, created_at, id) WHERE deleted_at IS NULL;

-- The recur-webhooks consumer group's own state (it never waits on another group's read model). Where each live
-- endpoint routes: its producer, filter (empty: every type), whether it is enabled, and the event-store position of
-- its creation: it receives the events recorded after that.
CREATE TABLE webhook_routes (
    endpoint_id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    event_types text[] NOT NULL,
    enabled boolean NOT NULL,
    created_notification_id bigint NOT NULL
);
CREATE INDEX webhook_routes_producer ON webhook_routes (producer_id);

-- The subscription events the group has seen lately, so that an endpoint whose creation (or enabling, or new filter)
-- the group applies after events recorded later than it (the two topics are read independently) still gets them.
-- Pruned after a day by the deliverer.
CREATE TABLE webhook_events (
    notification_id bigint PRIMARY KEY,
    producer_id uuid NOT NULL,
    event_id text NOT NULL,
    subscription_id uuid NOT NULL,
    version integer NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_producer ON webhook_events (producer_id, notification_id);
CREATE INDEX webhook_events_seen ON webhook_events (seen_at);

-- One row per (endpoint, event): a redelivered event, a restarted consumer or a second one decide nothing new.
-- `body` is rendered by the deliverer before the first attempt and kept, so every retry sends the same bytes
-- (with the same webhook-id, the event's id). Times named *_attempt_at are on the billing clock (the sandbox clock
-- in the sandbox), so a clock advance runs retries in time order; `in_flight_until` is a wall-clock lease held by
-- the deliverer (`claimed_by`, host:pid:start) while it waits for the receiver.
CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    endpoint_id uuid NOT NULL,
    producer_id uuid NOT NULL,
    event_id text NOT NULL,
    subscription_id uuid NOT NULL,
    event_version integer NOT NULL,
    event_name text NOT NULL,
    type text NOT NULL,
    notification_id bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    body bytea,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    manual boolean NOT NULL DEFAULT false,    -- retried by hand: one attempt, no schedule after it
    next_attempt_at timestamptz,              -- null once it succeeded or failed for good
    last_attempt_at timestamptz,
    last_response_status integer,
    last_error text,
    in_flight_until timestamptz,
    claimed_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_listed ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (endpoint_id) WHERE in_flight_until IS NOT NULL;

-- Since when each endpoint's deliveries have been failing (billing clock; null after a success): after 5 days, recur
-- disables it and its producer is e-mailed.
CREATE TABLE webhook_endpoint_health (
    endpoint_id uuid PRIMARY KEY,
    failing_since timestamptz,
    last_success_at timestamptz
);

-- The notifier's own copy of each endpoint's URL, for the e-mail that tells a producer its endpoint was disabled.
CREATE TABLE mail_webhook_endpoints (
    id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    url text NOT NULL
);

-- No WebhookEndpoint event exists before this code, and Kafka may no longer hold what came before: the new read model
-- starts where the catalog projection stands, and the new consumer group where the notifier (which reads both topics)
-- stands. Without these positions an upgraded database would count both as behind, forever, on every partition that
-- sees no new event (readiness stuck, clock advances waiting on them).
INSERT INTO projection_positions (projection, topic, partition, last_notification_id, last_event_at)
SELECT 'webhook_endpoints', topic, partition, last_notification_id, last_event_at
FROM projection_positions WHERE projection = 'catalog'
ON CONFLICT (projection, topic, partition) DO NOTHING;
INSERT INTO projection_positions (projection, topic, partition, last_notification_id, last_event_at)
SELECT 'webhooks', topic, partition, last_notification_id, last_event_at
FROM projection_positions WHERE projection = 'notifier'
ON CONFLICT (projection, topic, partition) DO NOTHING;
