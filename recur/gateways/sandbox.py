"""A sandbox gateway, as payment providers offer: test cards, queued outcomes, boletos and refunds.

Its state is in PostgreSQL so that every process sees the same cards, queue and ledger. The card
number only passes through `tokenize` (Luhn check, brand, last 4) and is never stored or logged.

Refunds (`sandbox_refunds`, one row per idempotency key): a card charge is refunded at once. A paid boleto
cannot be reversed through the slip: the money goes back by bank transfer, so its refund is `pending` when
asked and `succeeded` when asked again with the same key (the transfer is done by then). A refund beyond what
is left of the charge, in another currency, or of a charge the sandbox never saw paid is `failed`.

Latency (RECUR_SANDBOX_GATEWAY_LATENCY_MS): every call a real gateway would answer over the network (tokenizing,
preparing a card, a charge, a boleto, a refund) first waits that long, before touching the database, so that a
billing run meets the sandbox as it would meet a real gateway, and the overlap of its calls can be measured here.
This wait is the feature, not a synchronisation.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from recur.commands.gateway import (
    BoletoResult,
    CardHolder,
    CardToken,
    ChargeResult,
    GatewayNotice,
    IssuedBoleto,
    NotThisGatewayError,
    RefundResult,
    UnknownCardTokenError,
)
from recur.commands.sandbox_test_cards import TEST_CARDS, InvalidCardNumberError, card_brand, luhn_valid
from recur.db import Database


class SandboxGateway:
    """The PaymentGateway port over the sandbox's tables, plus what only a sandbox offers: test cards and outcome queues."""

    payment_methods = frozenset({"card", "boleto"})

    def __init__(self, db: Database, latency_ms: int = 0, pause: Callable[[float], None] = time.sleep) -> None:
        self.db = db
        self.latency = latency_ms / 1000
        self._pause = pause

    @property
    def max_in_flight(self) -> int | None:
        """With a latency, as many calls at once as a billing run sends (RECUR_GATEWAY_CONCURRENCY decides): they wait
        out the network time together. Without one, a call is a transaction on the pool it shares with the billing run,
        and nothing else: calls beyond its connections would only queue for them, ahead of the run's own statements
        (claiming, loading the next batch's data keys), which then wait for the gateway after all."""
        return None if self.latency > 0 else self.db.size

    def _round_trip(self) -> None:
        """The network time of a real gateway's answer (nothing when no latency is set)."""
        if self.latency > 0:
            self._pause(self.latency)

    def tokenize(self, number: str, exp_month: int, exp_year: int) -> CardToken:
        self._round_trip()
        number = number.replace(" ", "")
        if not luhn_valid(number):
            raise InvalidCardNumberError("the card number fails the Luhn check")
        token = CardToken("tok_" + secrets.token_hex(12), card_brand(number), number[-4:])
        self.db.execute(
            "INSERT INTO sandbox_cards (token, brand, last4, exp_month, exp_year, default_outcome) VALUES (%s,%s,%s,%s,%s,%s)",
            (token.token, token.brand, token.last4, exp_month, exp_year, TEST_CARDS.get(number, "approved")),
        )
        return token

    def describe_token(self, token: str) -> CardToken:
        row = self.db.fetchone("SELECT brand, last4 FROM sandbox_cards WHERE token = %s", (token,))
        if row is None:
            raise UnknownCardTokenError(token)
        return CardToken(token, row[0], row[1])

    def prepare_card(self, card_token: str, holder: CardHolder, replacing: str | None = None) -> CardToken:
        """A sandbox token is ready as it is: the sandbox keeps no customers."""
        self._round_trip()
        try:
            return self.describe_token(card_token)
        except UnknownCardTokenError:
            raise UnknownCardTokenError("unknown card token: create one with POST /v1/sandbox/card-tokens") from None

    def queue_outcomes(self, token: str, outcomes: list[str]) -> None:
        with self.db.transaction() as cur:
            cur.execute("SELECT 1 FROM sandbox_cards WHERE token = %s", (token,))
            if cur.fetchone() is None:
                raise UnknownCardTokenError(token)
            for outcome in outcomes:
                cur.execute("INSERT INTO sandbox_outcomes (token, outcome) VALUES (%s, %s)", (token, outcome))

    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        """Charge once per key. The outcome is popped from the card's queue (or its default) in the
        same transaction that writes the ledger row, so concurrent calls with one key agree."""
        self._round_trip()
        with self.db.transaction() as cur:
            # Lock the card first: a concurrent call with the same key waits here, then sees the
            # ledger row the first call wrote, and never pops a second outcome.
            cur.execute("SELECT default_outcome FROM sandbox_cards WHERE token = %s FOR UPDATE", (token,))
            card = cur.fetchone()
            if card is None:
                raise UnknownCardTokenError(token)
            cur.execute("SELECT outcome, charge_id FROM gateway_charges WHERE idempotency_key = %s", (idempotency_key,))
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    "DELETE FROM sandbox_outcomes WHERE (token, seq) IN (SELECT token, seq FROM sandbox_outcomes "
                    "WHERE token = %s ORDER BY seq LIMIT 1) RETURNING outcome",
                    (token,),
                )
                queued = cur.fetchone()
                row = (queued[0] if queued else card[0], "ch_" + secrets.token_hex(10))
                cur.execute(
                    "INSERT INTO gateway_charges (idempotency_key, kind, token, amount, currency, outcome, charge_id) "
                    "VALUES (%s, 'card', %s, %s, %s, %s, %s)",
                    (idempotency_key, token, amount, currency, row[0], row[1]),
                )
        outcome, charge_id = row
        if outcome == "approved":
            return ChargeResult(True, charge_id)
        return ChargeResult(False, charge_id, outcome)

    def issue_boleto(self, idempotency_key: str, subscription_id: str, amount: int, currency: str) -> BoletoResult:
        self._round_trip()
        with self.db.transaction() as cur:
            boleto_id = "bol_" + secrets.token_hex(8)
            line = "".join(str(secrets.randbelow(10)) for _ in range(47))
            cur.execute(
                "INSERT INTO sandbox_boletos (id, idempotency_key, amount, currency, line, subscription_id) "
                "VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (idempotency_key) DO NOTHING",
                (boleto_id, idempotency_key, amount, currency, line, subscription_id),
            )
            cur.execute(
                "INSERT INTO gateway_charges (idempotency_key, kind, amount, currency, outcome, charge_id, boleto_id) "
                "SELECT idempotency_key, 'boleto', amount, currency, 'issued', id, id FROM sandbox_boletos "
                "WHERE idempotency_key = %s ON CONFLICT (idempotency_key) DO NOTHING",
                (idempotency_key,),
            )
            cur.execute("SELECT id, line FROM sandbox_boletos WHERE idempotency_key = %s", (idempotency_key,))
            row = cur.fetchone()
        assert row is not None
        return BoletoResult(row[0], row[1])

    def boleto(self, boleto_id: str) -> IssuedBoleto | None:
        row = self.db.fetchone("SELECT subscription_id FROM sandbox_boletos WHERE id = %s", (boleto_id,))
        return IssuedBoleto(boleto_id, str(row[0])) if row else None

    def mark_boleto_paid(self, boleto_id: str) -> None:
        """The bank's report, in the sandbox's books (the ledger row says paid)."""
        with self.db.transaction() as cur:
            cur.execute("UPDATE sandbox_boletos SET paid_at = coalesce(paid_at, now()) WHERE id = %s RETURNING id", (boleto_id,))
            if cur.fetchone():
                cur.execute("UPDATE gateway_charges SET outcome = 'paid' WHERE boleto_id = %s", (boleto_id,))

    def refund(self, idempotency_key: str, charge_id: str, amount: int, currency: str) -> RefundResult:
        """Refund once per key. The charge's ledger row is locked first, so concurrent refunds of one charge are
        decided one after the other against what is left of it, and a repeated key finds the first one's row."""
        self._round_trip()
        with self.db.transaction() as cur:
            charge = self._locked_charge(cur, charge_id)
            cur.execute("SELECT status, refund_id, reason FROM sandbox_refunds WHERE idempotency_key = %s", (idempotency_key,))
            row = cur.fetchone()
            if row is not None:
                status, refund_id, reason = row
                if status == "pending":  # the bank transfer of a boleto refund is done by the time it is asked again
                    cur.execute("UPDATE sandbox_refunds SET status = 'succeeded', settled_at = now() WHERE idempotency_key = %s",
                                (idempotency_key,))
                    status = "succeeded"
                return RefundResult(status, refund_id, reason)
            status, reason = self._refund_decision(cur, charge_id, charge, amount, currency)
            refund_id = "re_" + secrets.token_hex(10)
            cur.execute(
                "INSERT INTO sandbox_refunds (idempotency_key, refund_id, charge_id, amount, currency, status, reason, settled_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s = 'pending' THEN NULL ELSE now() END)",
                (idempotency_key, refund_id, charge_id, amount, currency, status, reason, status),
            )
        return RefundResult(status, refund_id, reason)

    @staticmethod
    def _locked_charge(cur: Any, charge_id: str) -> tuple[int, str, str, str] | None:
        """(amount, currency, outcome, kind) of the charge, its ledger row locked; None when the sandbox never made it."""
        if charge_id.startswith("boleto:"):
            cur.execute("SELECT amount, currency, outcome, kind FROM gateway_charges WHERE boleto_id = %s FOR UPDATE",
                        (charge_id.removeprefix("boleto:"),))
        else:
            cur.execute("SELECT amount, currency, outcome, kind FROM gateway_charges WHERE charge_id = %s AND kind = 'card' FOR UPDATE",
                        (charge_id,))
        row: tuple[int, str, str, str] | None = cur.fetchone()
        return row

    @staticmethod
    def _refund_decision(cur: Any, charge_id: str, charge: tuple[int, str, str, str] | None, amount: int,
                         currency: str) -> tuple[str, str | None]:
        if charge is None:
            return "failed", "charge_not_found"
        charged, charge_currency, outcome, kind = charge
        if outcome not in ("approved", "paid"):
            return "failed", "charge_not_paid"
        if currency != charge_currency:
            return "failed", "currency_mismatch"
        cur.execute("SELECT coalesce(sum(amount), 0) FROM sandbox_refunds WHERE charge_id = %s AND status <> 'failed'", (charge_id,))
        if amount > charged - int(cur.fetchone()[0]):
            return "failed", "amount_exceeds_charge"
        return ("pending" if kind == "boleto" else "succeeded"), None

    def read_notice(self, source: str, payload: bytes, signature: str | None) -> GatewayNotice:
        """The sandbox posts no events: the bank's boleto reports come through the sandbox routes."""
        raise NotThisGatewayError(f"the gateway in use is the sandbox, not {source}")
