-- Reports and the cancellation dashboard.

-- Every charge attempt is a transaction (sales and installments reports).
CREATE TABLE rm_transactions (
    transaction_id text PRIMARY KEY,          -- the attempt's gateway idempotency key
    subscription_id uuid NOT NULL,
    producer_id uuid NOT NULL,
    plan_id uuid NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,                     -- pending | approved | declined | expired
    decline_reason text,
    installment_number integer NOT NULL,
    installment_total integer NOT NULL,
    cycle integer NOT NULL,
    attempt integer NOT NULL,
    payment_method text NOT NULL,
    boleto_id text,
    due_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX rm_transactions_producer_created ON rm_transactions (producer_id, created_at);
CREATE INDEX rm_transactions_producer_updated ON rm_transactions (producer_id, updated_at);
CREATE INDEX rm_transactions_boleto ON rm_transactions (boleto_id) WHERE boleto_id IS NOT NULL;

-- Each subscription's statuses over time: what was active at any instant (dashboard denominators).
CREATE TABLE rm_status_history (
    subscription_id uuid NOT NULL,
    producer_id uuid NOT NULL,
    product_id uuid NOT NULL,
    plan_id uuid NOT NULL,
    status text NOT NULL,
    from_at timestamptz NOT NULL,
    to_at timestamptz,
    version integer NOT NULL,
    PRIMARY KEY (subscription_id, version)
);
CREATE INDEX rm_status_history_producer ON rm_status_history (producer_id, from_at);
CREATE INDEX rm_status_history_open ON rm_status_history (subscription_id) WHERE to_at IS NULL;

CREATE INDEX rm_subscriptions_cancelled ON rm_subscriptions (producer_id, cancelled_at) WHERE cancelled_at IS NOT NULL;
CREATE INDEX rm_subscriptions_updated ON rm_subscriptions (producer_id, updated_at);
