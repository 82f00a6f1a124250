-- Refunds and disputes.

-- The sandbox gateway's refund ledger: one row per idempotency key, ever (tests read it to prove that nothing was
-- refunded twice). `charge_id` is the gateway's id of the charge: gateway_charges.charge_id for a card,
-- `boleto:<boleto id>` for a paid boleto.
CREATE TABLE sandbox_refunds (
    idempotency_key text PRIMARY KEY,
    refund_id text NOT NULL UNIQUE,
    charge_id text NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,                     -- succeeded | pending | failed
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz
);
CREATE INDEX sandbox_refunds_charge ON sandbox_refunds (charge_id);

-- Sales rows: what went back of each charge (refunds and lost disputes) and the state of its dispute, if any.
-- Statuses gain refunded, partially_refunded and disputed. No refund or dispute was recorded before this version.
ALTER TABLE rm_transactions ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0;
ALTER TABLE rm_transactions ADD COLUMN dispute_status text;  -- open | won | lost

-- Subscriptions: total_paid is net of what went back; total_refunded says how much that was.
ALTER TABLE rm_subscriptions ADD COLUMN total_refunded bigint NOT NULL DEFAULT 0;
