-- The sandbox payment gateway and the shared sandbox clock. The card number is never stored:
-- a token stands for it, with brand, last 4 digits and the behaviour of the test card.
CREATE TABLE sandbox_clock (
    id integer PRIMARY KEY CHECK (id = 1),
    now timestamptz NOT NULL
);

CREATE TABLE sandbox_cards (
    token text PRIMARY KEY,
    brand text NOT NULL,
    last4 text NOT NULL,
    exp_month integer NOT NULL,
    exp_year integer NOT NULL,
    default_outcome text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_outcomes (
    token text NOT NULL REFERENCES sandbox_cards (token),
    seq bigserial NOT NULL,
    outcome text NOT NULL,
    PRIMARY KEY (token, seq)
);

-- The gateway's ledger: one row per idempotency key, ever. Tests read it to prove that
-- nothing was charged twice.
CREATE TABLE gateway_charges (
    idempotency_key text PRIMARY KEY,
    kind text NOT NULL,
    token text,
    amount bigint NOT NULL,
    currency text NOT NULL,
    outcome text NOT NULL,
    charge_id text NOT NULL,
    boleto_id text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox_boletos (
    id text PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    amount bigint NOT NULL,
    currency text NOT NULL,
    line text NOT NULL,
    subscription_id uuid NOT NULL,
    paid_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
