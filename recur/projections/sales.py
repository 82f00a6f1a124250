"""Transactions: every charge attempt, approved, declined, pending (card in flight or boleto open) or expired; once
approved, refunded (in part or in full) or disputed."""

from __future__ import annotations

from typing import Any

from recur.contract.topics import SUBSCRIPTIONS
from recur.projections.base import Projection

sales = Projection("sales", [SUBSCRIPTIONS], ["rm_transactions"])


@sales.on("ChargeAttempted")
def when_charge_attempted(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute(
        "INSERT INTO rm_transactions (transaction_id, subscription_id, producer_id, plan_id, amount, currency, status, "
        "installment_number, installment_total, cycle, attempt, payment_method, due_at, created_at, updated_at) "
        "VALUES (%s,%s,%s,%s,%s,%s,'pending',%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (transaction_id) DO NOTHING",
        (d["key"], e["aggregate_id"], e["producer_id"], d["plan_id"], d["amount"], d["currency"], d["installment"],
         d["installments"], d["cycle"], d["attempt"], d["method"], d["due_at"], d["at"], d["at"]),
    )


@sales.on("ChargeSucceeded")
def when_charge_succeeded(cur: Any, e: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_transactions SET status = 'approved', updated_at = %s WHERE transaction_id = %s",
                (e["data"]["at"], e["data"]["key"]))


@sales.on("ChargeFailed")
def when_charge_failed(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute("UPDATE rm_transactions SET status = 'declined', decline_reason = %s, updated_at = %s WHERE transaction_id = %s",
                (d["reason"], d["at"], d["key"]))


@sales.on("BoletoIssued")
def when_boleto_issued(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute("UPDATE rm_transactions SET boleto_id = %s, updated_at = %s WHERE transaction_id = %s",
                (d["boleto_id"], d["at"], d["key"]))


@sales.on("BoletoExpired")
def when_boleto_expired(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute("UPDATE rm_transactions SET status = 'expired', updated_at = %s WHERE boleto_id = %s",
                (d["at"], d["boleto_id"]))


# ------------------------------------------------------------------ refunds and disputes
# `refunded_amount` is what went back to the buyer: refunds and, once lost, the disputed amount (so the rows of a
# subscription add up to its net total_paid). `disputed` stays the status of a charge whose dispute is open or lost;
# a won dispute gives the charge back the status its refunds say.
REFUND_STATUS = ("CASE WHEN refunded_amount + %s >= amount THEN 'refunded' WHEN refunded_amount + %s > 0 "
                 "THEN 'partially_refunded' ELSE 'approved' END")


@sales.on("ChargeRefunded")
def when_charge_refunded(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute(
        f"UPDATE rm_transactions SET status = CASE WHEN dispute_status IN ('open', 'lost') THEN 'disputed' ELSE {REFUND_STATUS} END, "
        "refunded_amount = refunded_amount + %s, updated_at = %s WHERE transaction_id = %s",
        (d["amount"], d["amount"], d["amount"], d["at"], d["charge_id"]),
    )


@sales.on("ChargeDisputed")
def when_charge_disputed(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    cur.execute("UPDATE rm_transactions SET status = 'disputed', dispute_status = 'open', updated_at = %s WHERE transaction_id = %s",
                (d["at"], d["charge_id"]))


@sales.on("DisputeClosed")
def when_dispute_closed(cur: Any, e: dict[str, Any]) -> None:
    d = e["data"]
    if d["outcome"] == "lost":
        cur.execute("UPDATE rm_transactions SET status = 'disputed', dispute_status = 'lost', refunded_amount = refunded_amount + %s, "
                    "updated_at = %s WHERE transaction_id = %s", (d["amount"], d["at"], d["charge_id"]))
        return
    cur.execute(f"UPDATE rm_transactions SET status = {REFUND_STATUS}, dispute_status = 'won', updated_at = %s WHERE transaction_id = %s",
                (0, 0, d["at"], d["charge_id"]))
