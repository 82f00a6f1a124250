"""recur on RECUR_GATEWAY=stripe, against localstripe (a stateful Stripe-compatible server run on a loopback port):
cards attached to a customer per subscriber, off-session charges made once per attempt whatever is lost on the way,
declines in recur's words, refunds, and Stripe's signed webhook events applied once.

The Stripe recur shares the session's test database, broker and workers with the sandbox one (its read models are
fed by the same relay and consumers). Its subscriptions are cancelled after each test, so that the sandbox's clock
advances in other tests never bill them; it bills its own subscriptions one at a time, as the scheduler does, rather
than running everything due, which would charge the sandbox's subscriptions through Stripe.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from recur_api import Api, flask_call
from stripe_server import TEST_API_KEY, LocalStripe, LossyLink

from recur.bootstrap import build_services
from recur.commands import subscriptions
from recur.commands.billing import bill_subscription
from recur.commands.gateway import GatewayOutcomeUnknown
from recur.commands.services import Services
from recur.domain.actor import Actor, system_actor
from recur.domain.subscription import Subscription
from recur.gateways.stripe import CHARGE_LOCK_CLASS, StripeGateway
from recur.settings import Settings

ADMIN = "adm_integration"
WEBHOOK_SECRET = "whsec_recur_integration"
APPROVED = "4242424242424242"
REFUSED_AT_ATTACH = "4000000000000002"
INSUFFICIENT_AT_ATTACH = "4000000000009995"
DECLINED_WHEN_CHARGED = "4000000000000341"
TEST_ACTOR = Actor(kind="admin", id="admin", request_id="")


@pytest.fixture(scope="module")
def localstripe(data_root: Path) -> Iterator[LocalStripe]:
    state = data_root / f"localstripe-{os.getpid()}.pickle"
    state.unlink(missing_ok=True)
    server = LocalStripe(state, data_root / f"localstripe-{os.getpid()}.log").start()
    yield server
    server.stop()
    state.unlink(missing_ok=True)


@dataclasses.dataclass
class StripeRecur:
    """recur built with RECUR_GATEWAY=stripe, and the test's own view of the Stripe account (what Stripe.js and the
    dashboard would do)."""

    services: Services
    anonymous: Api
    account: stripe.StripeClient
    server: LocalStripe
    started: list[str] = dataclasses.field(default_factory=list)

    def payment_method(self, number: str) -> str:
        """A PaymentMethod made from a card number, as a buyer's browser makes one with Stripe.js."""
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        return str(self.account.v1.payment_methods.create({"type": "card", "card": card})["id"])

    def subscribe(self, producer: Api, plan_id: str, card_number: str = APPROVED, expect: int = 201, **extra: Any) -> dict[str, Any]:
        started = producer.subscribe(plan_id, self.payment_method(card_number), expect=expect, **extra)
        if expect == 201:
            self.started.append(started["id"])
        return started

    def subscription(self, subscription_id: str) -> Subscription:
        found: Subscription = self.services.events.load(subscription_id, Subscription)
        return found

    def customer_of(self, subscription_id: str) -> str:
        return str(self.subscription(subscription_id).payment_method["token"]).split("/")[0]

    def intents_of(self, customer: str) -> list[dict[str, Any]]:
        listed = self.account.v1.payment_intents.list({"customer": customer, "limit": 100})
        return [intent.to_dict() for intent in listed.auto_paging_iter()]

    def move_clock(self, admin: Api, to: Any) -> None:
        """The sandbox clock moved (it works with either gateway); due work is billed by the test, one subscription."""
        admin.post("/v1/sandbox/clock/advance", {"to": to.isoformat(), "run_due": False})


@pytest.fixture(scope="module")
def stripe_recur(recur: Any, database_url: str, localstripe: LocalStripe) -> Iterator[StripeRecur]:
    from recur.http.app import create_app

    settings = Settings.from_env({
        "RECUR_DATABASE_URL": database_url,
        "RECUR_ADMIN_TOKEN": ADMIN,
        "RECUR_SANDBOX": "1",
        "RECUR_GATEWAY": "stripe",
        "RECUR_STRIPE_API_KEY": TEST_API_KEY,
        "RECUR_STRIPE_API_BASE": localstripe.url,
        "RECUR_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    })
    services = build_services(settings, database_url, pool_size=2)
    account = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": localstripe.url}, max_network_retries=0)
    running = StripeRecur(services, Api(flask_call(create_app(services).test_client())), account, localstripe)
    yield running
    services.close()


@pytest.fixture
def on_stripe(stripe_recur: StripeRecur) -> Iterator[StripeRecur]:
    """The Stripe recur for one test; its subscriptions are cancelled afterwards, and localstripe is running again."""
    yield stripe_recur
    if stripe_recur.server.process is None:
        stripe_recur.server.start()
    for subscription_id in stripe_recur.started:
        if stripe_recur.subscription(subscription_id).status != "cancelled":
            subscriptions.cancel(stripe_recur.services, subscription_id, None, "admin", "test over", "now", TEST_ACTOR)
    stripe_recur.started.clear()


@pytest.fixture
def seller(on_stripe: StripeRecur) -> Api:
    return on_stripe.anonymous.new_producer(ADMIN)


@pytest.fixture
def platform(on_stripe: StripeRecur) -> Api:
    return on_stripe.anonymous.as_(ADMIN)


def events_named(producer: Api, subscription_id: str, name: str) -> list[dict[str, Any]]:
    items = producer.get(f"/v1/subscriptions/{subscription_id}/events")["items"]
    return [item["data"] for item in items if item["type"].rsplit(".", 1)[-1] == name]


# ------------------------------------------------------------------------------------------------------ charges
def test_a_card_stripe_approves_is_charged_once_off_session_and_the_subscription_is_active(on_stripe: StripeRecur, seller: Api) -> None:
    plan = seller.new_plan(price={"amount": 2990, "currency": "BRL"})

    started = on_stripe.subscribe(seller, plan["id"])

    assert started["status"] == "active"
    assert started["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242"}
    kept = on_stripe.subscription(started["id"]).payment_method
    assert kept["token"].startswith("cus_") and "/pm_" in kept["token"]  # ids only: no card number reaches recur
    customer = on_stripe.account.v1.customers.retrieve(on_stripe.customer_of(started["id"])).to_dict()
    assert (customer["name"], customer["email"]) == ("Bia Souza", "bia@example.com")
    [intent] = on_stripe.intents_of(customer["id"])
    [paid] = events_named(seller, started["id"], "ChargeSucceeded")
    assert intent["status"] == "succeeded" and (intent["amount"], intent["currency"]) == (2990, "brl")
    assert intent["metadata"] == {"recur_key": paid["key"], "subscription_id": started["id"]}
    assert paid["gateway_charge_id"] == intent["id"]


@pytest.mark.parametrize(("number", "reason"), [(REFUSED_AT_ATTACH, "card_declined"), (INSUFFICIENT_AT_ATTACH, "card_declined")])
def test_a_card_stripe_refuses_to_attach_is_a_422_naming_the_card_token_and_nothing_starts(
    on_stripe: StripeRecur, seller: Api, number: str, reason: str
) -> None:
    plan = seller.new_plan()

    refused = on_stripe.subscribe(seller, plan["id"], number, expect=422)

    assert list(refused["errors"]) == ["payment_method.card_token"]
    assert reason in refused["detail"] and "declined" in refused["detail"]
    assert seller.get("/v1/subscriptions")["items"] == []


def test_a_token_stripe_never_issued_is_a_422_naming_the_card_token(on_stripe: StripeRecur, seller: Api) -> None:
    plan = seller.new_plan()
    body = {"plan_id": plan["id"], "subscriber": {"name": "Bia", "email": "bia@example.com"},
            "payment_method": {"type": "card", "card_token": "tok_from_the_sandbox"}}

    refused = seller.post("/v1/subscriptions", body, expect=422)

    assert list(refused["errors"]) == ["payment_method.card_token"] and "pm_" in refused["detail"]


def test_boleto_through_stripe_is_a_422_on_the_payment_method_type_at_start_and_at_a_switch(on_stripe: StripeRecur, seller: Api) -> None:
    plan = seller.new_plan()

    refused = seller.subscribe(plan["id"], boleto=True, expect=422)
    card = on_stripe.subscribe(seller, plan["id"])
    switched = seller.put(f"/v1/subscriptions/{card['id']}/payment-method", {"type": "boleto"}, expect=422)

    for problem in (refused, switched):
        assert list(problem["errors"]) == ["payment_method.type"] and "boleto is not available" in problem["detail"]


def test_the_sandbox_s_test_cards_are_not_there_with_stripe(on_stripe: StripeRecur, platform: Api) -> None:
    card = {"number": APPROVED, "exp_month": 12, "exp_year": 2034, "cvc": "123"}

    on_stripe.anonymous.post("/v1/sandbox/card-tokens", card, expect=404)
    assert platform.get("/v1/sandbox/clock")["now"]  # the sandbox clock works with either gateway


def test_a_card_declined_at_renewal_leaves_the_subscription_past_due_with_the_issuer_s_reason_on_the_same_customer(
    on_stripe: StripeRecur, seller: Api, platform: Api
) -> None:
    plan = seller.new_plan()
    started = on_stripe.subscribe(seller, plan["id"])
    customer = on_stripe.customer_of(started["id"])
    changed = seller.put(f"/v1/subscriptions/{started['id']}/payment-method",
                         {"type": "card", "card_token": on_stripe.payment_method(DECLINED_WHEN_CHARGED)})
    assert changed["payment_method"]["last4"] == "0341"

    on_stripe.move_clock(platform, on_stripe.subscription(started["id"]).next_charge_at)
    renewed = bill_subscription(on_stripe.services, started["id"], system_actor())

    assert renewed.status == "past_due" and renewed.retry is not None
    [failed] = events_named(seller, started["id"], "ChargeFailed")
    assert failed["reason"] == "card_declined"
    assert on_stripe.customer_of(started["id"]) == customer  # the new card is kept under the subscriber's customer
    assert sorted(intent["status"] for intent in on_stripe.intents_of(customer)) == ["requires_payment_method", "succeeded"]


def trialing_subscription(on_stripe: StripeRecur, seller: Api, platform: Api) -> tuple[Subscription, str]:
    """A subscription whose first charge falls due when its trial ends, and its Stripe customer; the clock at its due time."""
    plan = seller.new_plan(trial_days=7)
    started = on_stripe.subscribe(seller, plan["id"])
    assert started["status"] == "trialing"
    sub = on_stripe.subscription(started["id"])
    on_stripe.move_clock(platform, sub.next_charge_at)
    return sub, on_stripe.customer_of(started["id"])


def test_a_charge_whose_answer_was_lost_is_settled_from_stripe_without_a_second_charge(
    on_stripe: StripeRecur, seller: Api, platform: Api
) -> None:
    sub, customer = trialing_subscription(on_stripe, seller, platform)
    link = LossyLink(on_stripe.server.url)
    impatient = dataclasses.replace(on_stripe.services, gateway=StripeGateway(
        on_stripe.services.db, TEST_API_KEY, link.url, WEBHOOK_SECRET, timeout=(1.0, 1.0)))
    link.lose_next_answer("POST", "/v1/payment_intents")
    try:
        with pytest.raises(GatewayOutcomeUnknown):  # Stripe charged the card; recur heard nothing within its timeout
            bill_subscription(impatient, str(sub.id), system_actor())
    finally:
        link.close()
    [charged] = on_stripe.intents_of(customer)
    assert charged["status"] == "succeeded" and link.lost == ["/v1/payment_intents"]
    in_flight = on_stripe.subscription(str(sub.id))
    assert in_flight.inflight is not None and in_flight.status == "trialing"
    assert events_named(seller, str(sub.id), "ChargeFailed") == events_named(seller, str(sub.id), "ChargeSucceeded") == []

    settled = bill_subscription(on_stripe.services, str(sub.id), system_actor())

    assert settled.status == "active"
    assert [intent["id"] for intent in on_stripe.intents_of(customer)] == [charged["id"]]
    [paid] = events_named(seller, str(sub.id), "ChargeSucceeded")
    assert paid["gateway_charge_id"] == charged["id"] and paid["key"] == in_flight.inflight.key


def test_a_charge_while_stripe_is_down_stays_in_flight_the_scheduler_backs_off_and_the_charge_is_made_once_when_it_is_back(
    recur: Any, on_stripe: StripeRecur, seller: Api, platform: Api
) -> None:
    from recur.scheduler import run_due

    recur.caught_up()
    run_due(recur.services)  # what other tests left due is billed by their own (sandbox) gateway first
    sub, customer = trialing_subscription(on_stripe, seller, platform)
    recur.caught_up()

    on_stripe.server.stop()  # killed mid-way: nothing answers on its port
    passed = run_due(on_stripe.services)

    assert (passed.examined, passed.billed, passed.errors) == (1, 0, 1)
    in_flight = on_stripe.subscription(str(sub.id))
    assert in_flight.inflight is not None and in_flight.status == "trialing"
    assert on_stripe.services.db.fetchone("SELECT error_class FROM scheduler_failures WHERE subscription_id = %s",
                                          (str(sub.id),)) == ("GatewayOutcomeUnknown",)
    assert run_due(on_stripe.services).examined == 0  # set aside for a backoff, not retried at once

    on_stripe.server.start()  # the same state: what Stripe had before is still there
    settled = bill_subscription(on_stripe.services, str(sub.id), system_actor())
    again = bill_subscription(on_stripe.services, str(sub.id), system_actor())

    assert settled.status == again.status == "active"
    [charged] = on_stripe.intents_of(customer)
    assert charged["status"] == "succeeded" and charged["metadata"]["recur_key"] == in_flight.inflight.key
    on_stripe.services.db.execute("DELETE FROM scheduler_failures WHERE subscription_id = %s", (str(sub.id),))


def test_an_attempt_another_process_is_charging_is_not_charged_again_meanwhile(on_stripe: StripeRecur, seller: Api, platform: Api) -> None:
    sub, customer = trialing_subscription(on_stripe, seller, platform)
    request = sub.begin_charge(on_stripe.services.clock.now(), TEST_ACTOR)  # the attempt recorded, as billing does first
    assert request is not None
    on_stripe.services.events.store(sub)

    with on_stripe.services.db.transaction() as cur:  # another process holds the attempt: it may be charging right now
        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (CHARGE_LOCK_CLASS, request.key))
        with pytest.raises(GatewayOutcomeUnknown, match="another process"):
            bill_subscription(on_stripe.services, str(sub.id), system_actor())
        assert on_stripe.intents_of(customer) == []

    assert bill_subscription(on_stripe.services, str(sub.id), system_actor()).status == "active"
    [charged] = on_stripe.intents_of(customer)
    assert charged["metadata"]["recur_key"] == request.key
