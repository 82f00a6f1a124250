-- ChargeAttempted v1 did not record the plan: transactions upcast from it have none.
ALTER TABLE rm_transactions ALTER COLUMN plan_id DROP NOT NULL;
