"""Billing knows the payment gateway port, never an adapter: a boleto issued by any gateway is paid through it."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from recur.commands import catalog, subscriptions
from recur.commands.billing import bill_subscription, pay_boleto
from recur.commands.gateway import (
    BoletoResult,
    CardHolder,
    CardToken,
    ChargeResult,
    GatewayNotice,
    GatewayOutcomeUnknown,
    IssuedBoleto,
    NotThisGatewayError,
)
from recur.domain.actor import Actor, system_actor


class BankOfElsewhere:
    """A gateway that keeps its boletos to itself: nothing of it is in the sandbox's tables."""

    payment_methods = frozenset({"card", "boleto"})

    def __init__(self) -> None:
        self.issued: dict[str, IssuedBoleto] = {}
        self.paid: list[str] = []

    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        return ChargeResult(True, "ch_elsewhere")

    def issue_boleto(self, idempotency_key: str, subscription_id: str, amount: int, currency: str) -> BoletoResult:
        boleto_id = "elsewhere_" + secrets.token_hex(6)
        self.issued[boleto_id] = IssuedBoleto(boleto_id, subscription_id)
        return BoletoResult(boleto_id, "0" * 47)

    def prepare_card(self, card_token: str, holder: CardHolder, replacing: str | None = None) -> CardToken:
        return CardToken(card_token, "visa", "4242")

    def boleto(self, boleto_id: str) -> IssuedBoleto | None:
        return self.issued.get(boleto_id)

    def mark_boleto_paid(self, boleto_id: str) -> None:
        self.paid.append(boleto_id)

    def read_notice(self, source: str, payload: bytes, signature: str | None) -> GatewayNotice:
        raise NotThisGatewayError(source)


def test_a_boleto_issued_by_any_gateway_is_paid_through_that_gateway(recur: Any) -> None:
    bank = BankOfElsewhere()
    services = dataclasses.replace(recur.services, gateway=bank)
    actor = Actor(kind="admin", id="admin", request_id="")
    producer, _ = catalog.register_producer(services, "Elsewhere Courses", "e@example.com", actor)
    product = catalog.create_product(services, str(producer.id), "Course", actor)
    plan = catalog.define_plan(services, str(product.id), None, {"name": "M", "periodicity": "monthly",
                                                                "price": {"amount": 1000, "currency": "BRL"}}, actor)
    sub, _ = subscriptions.start_subscription(services, None, {
        "plan_id": str(plan.id), "subscriber": {"name": "B", "email": "b@example.com"}, "payment_method": {"type": "boleto"}}, actor)
    assert sub.status == "pending" and sub.boleto is not None
    boleto_id = sub.boleto.id

    paid = pay_boleto(services, boleto_id, {"kind": "system", "id": "bank", "request_id": ""})

    assert paid is not None and paid.status == "active"
    assert bank.paid == [boleto_id]
    assert pay_boleto(services, "never_issued", {"kind": "system", "id": "bank", "request_id": ""}) is None


class SilentBank(BankOfElsewhere):
    """A gateway whose answers never arrive: whether it charged is unknown."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def charge_card(self, idempotency_key: str, token: str, amount: int, currency: str, *, subscription_id: str) -> ChargeResult:
        self.asked.append(idempotency_key)
        raise GatewayOutcomeUnknown(f"no answer for {idempotency_key}")


def test_a_first_charge_with_no_answer_leaves_the_subscription_pending_its_attempt_in_flight_until_an_answer_settles_it(
    recur: Any,
) -> None:
    silent = SilentBank()
    services = dataclasses.replace(recur.services, gateway=silent)
    actor = Actor(kind="admin", id="admin", request_id="")
    producer, _ = catalog.register_producer(services, "Quiet Courses", "q@example.com", actor)
    product = catalog.create_product(services, str(producer.id), "Course", actor)
    plan = catalog.define_plan(services, str(product.id), None, {"name": "M", "periodicity": "monthly",
                                                                "price": {"amount": 1000, "currency": "BRL"}}, actor)

    sub, _ = subscriptions.start_subscription(services, None, {
        "plan_id": str(plan.id), "subscriber": {"name": "B", "email": "b@example.com"},
        "payment_method": {"type": "card", "card_token": "tok_elsewhere"}}, actor)

    assert sub.status == "pending" and sub.inflight is not None and sub.retry is None  # not a refusal: nothing recorded
    assert silent.asked == [sub.inflight.key]
    answering = dataclasses.replace(recur.services, gateway=BankOfElsewhere())
    settled = bill_subscription(answering, str(sub.id), system_actor())
    assert settled.status == "active" and settled.inflight is None
    subscriptions.cancel(answering, str(sub.id), None, "admin", None, "now", actor)  # the sandbox cannot charge its renewals
