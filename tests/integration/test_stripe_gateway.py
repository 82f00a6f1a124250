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
import hashlib
import hmac
import json
import os
import secrets
import time
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
from recur.sealing import generate_master_key
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
        "RECUR_MASTER_KEY": generate_master_key(),  # subscribers' personal data is encrypted with keys sealed under it
    })
    services = build_services(settings, database_url, pool_size=4)  # as an API worker's
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
    on_stripe: StripeRecur, seller: Api, platform: Api
) -> None:
    from recur.scheduler import bill_one

    sub, customer = trialing_subscription(on_stripe, seller, platform)

    on_stripe.server.stop()  # killed mid-way: nothing answers on its port
    billed = bill_one(on_stripe.services, str(sub.id))  # what a scheduler pass does with this due subscription

    assert billed is False
    in_flight = on_stripe.subscription(str(sub.id))
    assert in_flight.inflight is not None and in_flight.status == "trialing" and in_flight.retry is None
    assert events_named(seller, str(sub.id), "ChargeFailed") == []  # no answer is not a refusal
    set_aside = on_stripe.services.db.fetchone(
        "SELECT error_class, retry_at > now() FROM scheduler_failures WHERE subscription_id = %s", (str(sub.id),))
    assert set_aside == ("GatewayOutcomeUnknown", True)  # passes skip it until the backoff is over

    on_stripe.server.start()  # the same state: what Stripe had before is still there
    settled = bill_one(on_stripe.services, str(sub.id))
    again = bill_subscription(on_stripe.services, str(sub.id), system_actor())

    assert settled is True and again.status == "active"
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


# ------------------------------------------------------------------------------------------------------ refunds
def test_a_refund_through_recur_is_a_stripe_refund_of_the_payment_intent_made_once_even_when_its_answer_is_lost(
    on_stripe: StripeRecur, seller: Api
) -> None:
    started = on_stripe.subscribe(seller, seller.new_plan(price={"amount": 5000, "currency": "BRL"})["id"])
    [intent] = on_stripe.intents_of(on_stripe.customer_of(started["id"]))

    first = seller.post(f"/v1/subscriptions/{started['id']}/refunds", {"amount": {"amount": 1200, "currency": "BRL"}}, expect=201)
    link = LossyLink(on_stripe.server.url)
    impatient = dataclasses.replace(on_stripe.services, gateway=StripeGateway(
        on_stripe.services.db, TEST_API_KEY, link.url, WEBHOOK_SECRET, timeout=(1.0, 1.0)))
    link.lose_next_answer("POST", "/v1/refunds")
    try:
        from recur.commands.refunds import refund_charge

        second, _ = refund_charge(impatient, started["id"], None, {"amount": {"amount": 800, "currency": "BRL"}}, TEST_ACTOR)
    finally:
        link.close()
    assert second.status == "requested"  # Stripe refunded; recur heard nothing: in flight, not failed
    settled = bill_subscription(on_stripe.services, started["id"], system_actor())  # the scheduler asks again, same key

    assert first["status"] == "succeeded" and settled.refunds[second.id].status == "succeeded"
    at_stripe = [refund.to_dict() for refund in on_stripe.account.v1.refunds.list({"payment_intent": intent["id"]}).auto_paging_iter()]
    assert sorted(refund["amount"] for refund in at_stripe) == [800, 1200]
    refunded = events_named(seller, started["id"], "ChargeRefunded")
    assert sorted(event["gateway_refund_id"] for event in refunded) == sorted(refund["id"] for refund in at_stripe)


# ------------------------------------------------------------------------------------------------------ webhook
def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header as Stripe sends them: HMAC-SHA256 of `<t>.<body>` with the endpoint's secret."""
    body = json.dumps(event).encode()
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={digest}"


def stripe_event(kind: str, found: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{secrets.token_hex(8)}", "object": "event", "type": kind, "created": int(time.time()), "livemode": False,
            "api_version": "2026-10-28.endive", "data": {"object": found}}


def deliver(app: Any, event: dict[str, Any], secret: str = WEBHOOK_SECRET, signature: str | None = None) -> Any:
    body, header = signed(event, secret)
    headers = {"Content-Type": "application/json", "Stripe-Signature": header if signature is None else signature}
    if signature == "":
        del headers["Stripe-Signature"]
    return app.post("/v1/gateway-events/stripe", data=body, headers=headers)


@pytest.fixture
def webhook(on_stripe: StripeRecur) -> Any:
    """Where Stripe posts its events: the Stripe recur's app, with no credentials."""
    from recur.http.app import create_app

    return create_app(on_stripe.services).test_client()


def paid_subscription(on_stripe: StripeRecur, seller: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    started = on_stripe.subscribe(seller, seller.new_plan(price={"amount": 3000, "currency": "BRL"})["id"])
    [intent] = on_stripe.intents_of(on_stripe.customer_of(started["id"]))
    return started, intent


def test_a_refund_made_in_stripe_s_dashboard_is_recorded_once_however_often_stripe_delivers_it(
    on_stripe: StripeRecur, seller: Api, webhook: Any
) -> None:
    started, intent = paid_subscription(on_stripe, seller)
    refund = on_stripe.account.v1.refunds.create({"payment_intent": intent["id"], "amount": 1000}).to_dict()
    event = stripe_event("charge.refunded", {"id": refund["charge"], "object": "charge", "payment_intent": intent["id"],
                                             "amount": 3000, "amount_refunded": 1000, "currency": "brl"})

    answers = [deliver(webhook, event) for _ in range(2)]  # Stripe delivers at least once

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.get_json()["outcome"] for answer in answers] == ["recorded", "duplicate"]
    [refunded] = events_named(seller, started["id"], "ChargeRefunded")
    assert (refunded["gateway_refund_id"], refunded["amount"], refunded["gateway_charge_id"]) == (refund["id"], 1000, intent["id"])
    listed = seller.get(f"/v1/subscriptions/{started['id']}/refunds")["items"]
    assert [(item["amount"], item["status"]) for item in listed] == [({"amount": 1000, "currency": "BRL"}, "succeeded")]


def test_a_new_event_about_a_refund_already_recorded_records_nothing_more(on_stripe: StripeRecur, seller: Api, webhook: Any) -> None:
    started, intent = paid_subscription(on_stripe, seller)
    seller.post(f"/v1/subscriptions/{started['id']}/refunds", {}, expect=201)  # recur's own refund, in full

    answer = deliver(webhook, stripe_event("charge.refunded", {"id": "ch_any", "object": "charge", "payment_intent": intent["id"]}))

    assert answer.status_code == 200 and answer.get_json()["outcome"] == "known"
    assert len(events_named(seller, started["id"], "ChargeRefunded")) == 1


def test_a_dispute_opened_then_lost_is_recorded_on_the_subscription_whose_charge_it_is(
    on_stripe: StripeRecur, seller: Api, webhook: Any
) -> None:
    started, intent = paid_subscription(on_stripe, seller)
    dispute = {"id": "dp_recur_1", "object": "dispute", "charge": "ch_any", "payment_intent": intent["id"], "amount": 3000,
               "currency": "brl", "reason": "fraudulent", "status": "needs_response"}

    opened = deliver(webhook, stripe_event("charge.dispute.created", dispute))
    closed = deliver(webhook, stripe_event("charge.dispute.closed", {**dispute, "status": "lost"}))

    assert [opened.get_json()["outcome"], closed.get_json()["outcome"]] == ["recorded", "recorded"]
    [disputed] = events_named(seller, started["id"], "ChargeDisputed")
    [ended] = events_named(seller, started["id"], "DisputeClosed")
    assert (disputed["dispute_id"], disputed["amount"], disputed["reason"]) == ("dp_recur_1", 3000, "fraudulent")
    assert ended["outcome"] == "lost"


def test_a_dispute_closed_before_its_opening_arrived_is_refused_so_that_stripe_delivers_it_again(
    on_stripe: StripeRecur, seller: Api, webhook: Any
) -> None:
    started, intent = paid_subscription(on_stripe, seller)
    dispute = {"id": "dp_recur_2", "object": "dispute", "payment_intent": intent["id"], "amount": 3000, "currency": "brl",
               "reason": "general", "status": "won"}
    closed = stripe_event("charge.dispute.closed", dispute)

    early = deliver(webhook, closed)
    deliver(webhook, stripe_event("charge.dispute.created", {**dispute, "status": "needs_response"}))
    again = deliver(webhook, closed)

    assert early.status_code == 409 and again.get_json()["outcome"] == "recorded"
    [ended] = events_named(seller, started["id"], "DisputeClosed")
    assert ended["outcome"] == "won"


@pytest.mark.parametrize(("secret", "signature"), [("whsec_someone_else", None), (WEBHOOK_SECRET, ""), (WEBHOOK_SECRET, "t=1,v1=00")])
def test_an_event_without_a_good_signature_is_refused_and_records_nothing(
    on_stripe: StripeRecur, seller: Api, webhook: Any, secret: str, signature: str | None
) -> None:
    started, intent = paid_subscription(on_stripe, seller)
    refund = on_stripe.account.v1.refunds.create({"payment_intent": intent["id"], "amount": 500}).to_dict()

    answer = deliver(webhook, stripe_event("charge.refunded", {"id": refund["charge"], "object": "charge", "payment_intent": intent["id"]}),
                     secret, signature)

    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["type"].endswith("/invalid-signature")
    assert events_named(seller, started["id"], "ChargeRefunded") == []


def test_an_old_signature_is_refused_as_a_replay(on_stripe: StripeRecur, webhook: Any) -> None:
    event = stripe_event("charge.refunded", {"id": "ch_any", "object": "charge", "payment_intent": "pi_any"})
    body, header = signed(event, at=int(time.time()) - 3600)

    answer = webhook.post("/v1/gateway-events/stripe", data=body, headers={"Stripe-Signature": header})

    assert answer.status_code == 401


def test_events_recur_does_not_follow_and_charges_it_did_not_make_are_acknowledged_and_ignored(
    on_stripe: StripeRecur, webhook: Any
) -> None:
    customer = on_stripe.account.v1.customers.create({"name": "Elsewhere"})["id"]
    method = on_stripe.payment_method(APPROVED)
    on_stripe.account.v1.payment_methods.attach(method, {"customer": customer})
    foreign = on_stripe.account.v1.payment_intents.create({"amount": 100, "currency": "brl", "customer": customer, "payment_method": method,
                                                           "confirm": True, "off_session": True})

    other_type = deliver(webhook, stripe_event("customer.created", {"id": customer, "object": "customer"}))
    not_ours = deliver(webhook, stripe_event("charge.refunded", {"id": "ch_x", "object": "charge", "payment_intent": foreign["id"]}))

    assert [other_type.status_code, not_ours.status_code] == [200, 200]
    assert [other_type.get_json()["outcome"], not_ours.get_json()["outcome"]] == ["ignored", "ignored"]


def test_the_stripe_webhook_is_not_there_when_recur_does_not_use_stripe(api: Any, recur: Any) -> None:
    event = stripe_event("charge.refunded", {"id": "ch_any", "object": "charge", "payment_intent": "pi_any"})
    body, header = signed(event)

    answer = recur.client.post("/v1/gateway-events/stripe", data=body, headers={"Stripe-Signature": header})

    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
