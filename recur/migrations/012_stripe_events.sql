-- Events a payment gateway posted to recur (Stripe's webhook, POST /v1/gateway-events/stripe), one row per event
-- applied. Stripe delivers an event at least once and redelivers it until it is answered 2xx (for up to three days):
-- the row is written in the same transaction that holds it while its facts are recorded, so a redelivery, or two
-- deliveries at once, record nothing twice. Keyed by gateway as well, so that another provider's events fit beside.
CREATE TABLE gateway_events (
    gateway text NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    outcome text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (gateway, event_id)
);
