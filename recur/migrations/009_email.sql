-- E-mail (issue 9): the outbox recur sends from, the notifier's own state, report schedules, and the
-- sandbox's SMTP sink.

-- One row per message recur decided to send. `dedup_key` names (subscription or schedule, kind, cycle or
-- period): a redelivered event, a restarted notifier or a second one insert nothing new. The message is
-- rendered when decided and kept whole (MIME, without From: the sender adds RECUR_MAIL_FROM with
-- `sender_name` as display name), so a retry sends the very same bytes and Message-ID.
-- `recipient` is personal data: it is never logged.
CREATE TABLE email_outbox (
    id bigserial PRIMARY KEY,
    dedup_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    producer_id uuid,
    subscription_id uuid,
    recipient text NOT NULL,
    sender_name text,
    subject text NOT NULL,
    message bytea NOT NULL,
    decided_at timestamptz NOT NULL,              -- the clock's time (the sandbox clock's in the sandbox)
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),  -- wall-clock time: SMTP servers live in real time
    last_error text,                              -- the server's reason, the recipient's address blanked out
    last_attempt_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX email_outbox_subscription ON email_outbox (subscription_id);

-- The notifier sends nothing for events stored before e-mail existed: an upgrade must not mail every
-- subscriber a receipt for each charge of their history. Events after this notification id are told.
CREATE TABLE notifier_horizon (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_notification_id bigint NOT NULL
);
DO $$
BEGIN
    IF to_regclass('recur_events') IS NOT NULL THEN
        INSERT INTO notifier_horizon SELECT true, coalesce(max(notification_id), 0) FROM recur_events;
    ELSE
        INSERT INTO notifier_horizon VALUES (true, 0);
    END IF;
END $$;

-- What the notifier needs to write to a subscriber, kept from the events it consumes (its own state, so
-- it never waits on another consumer group's read model). `last_refusal`: the latest refused charge of
-- the installment being retried (until it is paid); `refusal_told`: whether the retry decision that
-- followed it (RetryScheduled or RetriesExhausted) has been told, so a retry resumed by a new card is not.
CREATE TABLE mail_subscribers (
    subscription_id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    product_id uuid NOT NULL,
    plan_id uuid,
    code text NOT NULL,
    name text NOT NULL,
    email text NOT NULL,
    country text,
    payment_method jsonb NOT NULL,
    last_refusal jsonb,
    refusal_told boolean NOT NULL DEFAULT false
);

-- Names of producers, products and plans for the messages (and producers' own e-mail).
CREATE TABLE mail_names (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    email text
);

-- An upgrade: subscriptions, products and plans that exist already are known to the notifier from their read
-- models (Kafka may no longer hold their first events), and producers' names from their stored events (stored
-- as JSON by the event store's default transcoder; a store that cannot be read so leaves display names empty).
INSERT INTO mail_subscribers (subscription_id, producer_id, product_id, plan_id, code, name, email, country, payment_method)
SELECT id, producer_id, product_id, plan_id, code, subscriber_name, subscriber_email, subscriber_country,
       jsonb_strip_nulls(jsonb_build_object('type', payment_type, 'brand', payment_brand, 'last4', payment_last4))
FROM rm_subscriptions;
INSERT INTO mail_names (id, name) SELECT id, name FROM rm_products UNION ALL SELECT id, name FROM rm_plans;
DO $$
BEGIN
    IF to_regclass('recur_events') IS NOT NULL THEN
        INSERT INTO mail_names (id, name, email)
        SELECT originator_id, convert_from(state, 'UTF8')::jsonb ->> 'name', convert_from(state, 'UTF8')::jsonb ->> 'email'
        FROM recur_events WHERE topic LIKE '%Producer.ProducerRegistered'
        ON CONFLICT (id) DO NOTHING;
    END IF;
EXCEPTION WHEN others THEN
    RAISE NOTICE 'producer names not read from the event store (%): e-mail shows no producer name for them', SQLERRM;
END $$;

-- The name (and e-mail) a producer, product or plan was created with, read from its first stored event: the notifier's
-- fallback when the catalog event has not reached it yet (the catalog and subscription topics are consumed side by
-- side, in no order between them). NULL when the event is missing or not stored as JSON.
CREATE FUNCTION recur_created_name(aggregate uuid, OUT name text, OUT email text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    created jsonb;
BEGIN
    SELECT convert_from(state, 'UTF8')::jsonb INTO created FROM recur_events
    WHERE originator_id = aggregate AND originator_version = 1;
    name := created ->> 'name';
    email := created ->> 'email';
EXCEPTION WHEN others THEN
    name := NULL;
    email := NULL;
END $$;

-- Report schedules, as the API lists them (a read model of the ReportSchedule aggregate).
CREATE TABLE rm_report_schedules (
    id uuid PRIMARY KEY,
    producer_id uuid NOT NULL,
    report text NOT NULL,
    frequency text NOT NULL,
    format text NOT NULL,
    recipients jsonb NOT NULL,
    time_zone text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX rm_report_schedules_producer ON rm_report_schedules (producer_id, created_at, id) WHERE deleted_at IS NULL;

-- The end of the next period each schedule reports on; kept by the scheduler, not by a projection, so a
-- rebuild of the read models never sends a period twice (the outbox key would refuse it anyway).
CREATE TABLE report_schedule_progress (
    schedule_id uuid PRIMARY KEY,
    next_period_end timestamptz NOT NULL
);

-- What the local SMTP sink received (`recur up` without RECUR_SMTP_URL, and the tests): the sandbox's
-- GET /v1/sandbox/outbox/emails lists it.
CREATE TABLE sandbox_mailbox (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    mail_from text NOT NULL,
    recipients text[] NOT NULL,
    kind text,
    subject text,
    message bytea NOT NULL
);
CREATE INDEX sandbox_mailbox_recipients ON sandbox_mailbox USING gin (recipients);
