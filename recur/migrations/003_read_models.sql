-- Read models fed from Kafka by the projections (and rebuilt from the event store at will).
CREATE TABLE rm_products (
    id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX rm_products_producer ON rm_products (producer_id, created_at, id);

CREATE TABLE rm_plans (
    id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    product_id uuid NOT NULL,
    name text NOT NULL,
    periodicity text NOT NULL,
    price_amount bigint NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE rm_subscriptions (
    id uuid PRIMARY KEY,
    code text NOT NULL,
    producer_id uuid NOT NULL,
    product_id uuid NOT NULL,
    plan_id uuid NOT NULL,
    offer_id uuid,
    status text NOT NULL,
    price_amount bigint NOT NULL,
    currency text NOT NULL,
    periodicity text NOT NULL,
    installments integer NOT NULL,
    subscriber_name text NOT NULL,
    subscriber_email text NOT NULL,
    subscriber_country text,
    payment_type text NOT NULL,
    payment_brand text,
    payment_last4 text,
    started_at timestamptz NOT NULL,
    trial_ends_at timestamptz,
    paid_recurrences integer NOT NULL DEFAULT 0,
    total_paid bigint NOT NULL DEFAULT 0,
    cancelled_at timestamptz,
    cancellation_origin text,
    cancellation_reason text,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX rm_subscriptions_producer ON rm_subscriptions (producer_id, started_at, id);
CREATE INDEX rm_subscriptions_status ON rm_subscriptions (status);

-- What the billing scheduler must look at, and when.
CREATE TABLE rm_billing_schedule (
    subscription_id uuid PRIMARY KEY,
    due_at timestamptz
);
CREATE INDEX rm_billing_schedule_due ON rm_billing_schedule (due_at) WHERE due_at IS NOT NULL;
