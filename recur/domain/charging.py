"""Two-phase charges: the attempt recorded before the gateway is called, and what it leaves behind.

A charge is recorded as attempted (`ChargeAttempted`, with the gateway idempotency key) before the
gateway is called, and its result is recorded against the same key. Between the two the subscription
holds the `Attempt`; a boleto issued for an attempt holds it until the bank reports the boleto paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.domain.money import Money
from recur.domain.terms import PlanTerms


def idempotency_key(subscription_id: object, cycle: int, installment: int, attempt: int) -> str:
    """One key per try of one installment: the gateway answers a repeated key with its first result."""
    return f"{subscription_id}:c{cycle}:i{installment}:a{attempt}"


@dataclass(frozen=True)
class ChargeRequest:
    """A charge the gateway must make, identified by its idempotency key."""

    key: str
    method: str
    token: str | None
    amount: Money
    cycle: int
    installment: int


@dataclass(frozen=True)
class Attempt:
    """A charge recorded as attempted whose result is not recorded yet.

    `new_terms` are the pending plan terms that take effect if it is paid (it opens a cycle on them).
    """

    key: str
    cycle: int
    installment: int
    installments: int
    amount: Money
    method: str
    reprocess: bool
    at: datetime
    new_terms: PlanTerms | None

    def is_for(self, cycle: int, installment: int) -> bool:
        return (self.cycle, self.installment) == (cycle, installment)

    def request(self, token: str | None) -> ChargeRequest:
        return ChargeRequest(self.key, self.method, token, self.amount, self.cycle, self.installment)

    def outcome_fields(self) -> dict[str, Any]:
        """What every charge outcome event repeats from its attempt."""
        return {
            "cycle": self.cycle,
            "installment": self.installment,
            "installments": self.installments,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "method": self.method,
        }


@dataclass(frozen=True)
class Boleto:
    """A bank slip issued for an attempt: the attempt is paid when the bank reports the boleto paid."""

    id: str
    line: str
    amount: Money
    due_date: str  # ISO date printed on the slip
    expires_at: datetime
    attempt: Attempt

    def is_for(self, cycle: int, installment: int) -> bool:
        return self.attempt.is_for(cycle, installment)

    def expired(self, at: datetime) -> bool:
        return at >= self.expires_at
