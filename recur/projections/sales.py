"""Transactions: every charge attempt, approved, declined, pending (card in flight or boleto open) or expired."""

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
