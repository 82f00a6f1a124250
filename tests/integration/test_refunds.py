"""Refunds and disputes end to end: the API, the sandbox gateway's ledger, the reports, the dashboard, a rebuild and
the refund e-mail, on real PostgreSQL, the broker and an SMTP server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from recur_api import Api, flask_call

from recur.commands import refunds
from recur.commands.billing import bill_subscription
from recur.domain.actor import Actor, system_actor
from recur.domain.money import Money
from recur.domain.refunds import PENDING_REFUND_RECHECK
from recur.domain.subscription import Subscription
from recur.projections.rebuild import differences
from recur.projections.registry import PROJECTIONS

Running = Any  # the `recur` fixture (tests/integration/conftest.py)
GATEWAY: Actor = {"kind": "system", "id": "gateway-webhook", "request_id": ""}


def subscribe(producer: Api, price: int = 4990, **extra: Any) -> dict[str, Any]:
    plan = producer.new_plan(price={"amount": price, "currency": "BRL"})
    email = f"refund-{uuid4().hex[:10]}@example.com"
    return producer.post("/v1/subscriptions", {
        "plan_id": plan["id"], "subscriber": {"name": "Bia Souza", "email": email},
        "payment_method": {"type": "boleto"} if extra.pop("boleto", False) else {"type": "card", "card_token": producer.card()},
        **extra}, expect=201)


def refunds_path(sub: dict[str, Any]) -> str:
    return f"/v1/subscriptions/{sub['id']}/refunds"


def ledger(recur: Running, sub: dict[str, Any]) -> list[tuple[str, int, str]]:
    """The sandbox gateway's own refund rows for the subscription's keys: what really went back."""
    return recur.services.db.fetchall(
        "SELECT idempotency_key, amount, status FROM sandbox_refunds WHERE idempotency_key LIKE %s ORDER BY created_at",
        (f"{sub['id']}:r%",),
    )


def sales_rows(recur: Running, producer: Api, today: date) -> dict[str, dict[str, Any]]:
    recur.caught_up()
    items = producer.get(f"/v1/reports/sales?from={today - timedelta(days=40)}&to={today}&limit=1000")["items"]
    return {item["transaction_id"]: item for item in items}


# ---------------------------------------------------------------------------------------------- the API


def test_a_producer_refunds_the_last_charge_in_full_and_the_subscription_is_net_of_it(recur: Running, producer: Api,
                                                                                     admin: Api) -> None:
    sub = subscribe(producer)
    today = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"]).date()
    (charge_id,) = sales_rows(recur, producer, today)  # the id producers see for the charge

    answer = recur.client.post(refunds_path(sub), json={"reason": "requested by the buyer"},
                               headers={"Authorization": f"Bearer {producer.token}"})
    made = answer.get_json()

    assert answer.status_code == 201
    assert (made["charge_id"], made["amount"], made["status"]) == (charge_id, {"amount": 4990, "currency": "BRL"}, "succeeded")
    assert made["id"] == f"{sub['id']}:r1" and made["reason"] == "requested by the buyer" and made["external"] is False
    assert producer.get(answer.headers["Location"]) == made
    assert producer.get(refunds_path(sub))["items"] == [made]
    after = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert (after["status"], after["total_paid"]["amount"], after["total_refunded"]["amount"]) == ("active", 0, 4990)
    assert ledger(recur, sub) == [(made["id"], 4990, "succeeded")]


def test_a_charge_is_refunded_in_parts_and_more_than_is_left_is_a_422_naming_the_field(recur: Running, producer: Api) -> None:
    sub = subscribe(producer)
    first = producer.post(refunds_path(sub), {"amount": {"amount": 1000, "currency": "BRL"}}, expect=201)
    producer.post(refunds_path(sub), {"charge_id": first["charge_id"], "amount": {"amount": 3990, "currency": "BRL"}}, expect=201)

    beyond = producer.post(refunds_path(sub), {"amount": {"amount": 1, "currency": "BRL"}}, expect=422)
    other_currency = producer.post(refunds_path(sub), {"amount": {"amount": 1, "currency": "USD"}}, expect=422)
    unknown = producer.post(refunds_path(sub), {"charge_id": f"{sub['id']}:c7:i1:a1"}, expect=422)
    nothing_left = producer.post(refunds_path(sub), {}, expect=409)

    assert set(beyond["errors"]) == {"amount.amount"} and set(other_currency["errors"]) == {"amount.currency"}
    assert set(unknown["errors"]) == {"charge_id"} and "nothing is left" in nothing_left["detail"]
    assert [amount for _, amount, _ in ledger(recur, sub)] == [1000, 3990]


def test_another_tenants_subscription_is_a_404_and_a_subscriber_may_only_read(api: Api, producer: Api) -> None:
    sub = subscribe(producer)
    stranger = api.new_producer("adm_integration", "Someone Else")
    subscriber = producer.as_(sub["subscriber_token"])

    stranger.post(refunds_path(sub), {}, expect=404)
    stranger.get(refunds_path(sub), expect=404)
    subscriber.post(refunds_path(sub), {}, expect=404)
    assert subscriber.get(refunds_path(sub))["items"] == []
    producer.get(f"{refunds_path(sub)}/{sub['id']}:r9", expect=404)


def test_a_request_repeated_with_its_idempotency_key_refunds_once(recur: Running, producer: Api) -> None:
    sub = subscribe(producer)
    body = {"amount": {"amount": 700, "currency": "BRL"}}

    first = producer.post(refunds_path(sub), body, expect=201, Idempotency_Key="refund-once")
    again = producer.post(refunds_path(sub), body, expect=201, Idempotency_Key="refund-once")

    assert again == first
    assert ledger(recur, sub) == [(first["id"], 700, "succeeded")]
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["total_paid"]["amount"] == 4990 - 700


def test_refunding_with_cancel_also_cancels_now_as_the_seller(producer: Api, admin: Api) -> None:
    sub = subscribe(producer)
    made = producer.post(refunds_path(sub), {"reason": "never used it", "cancel": True}, expect=201)

    after = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert made["status"] == "succeeded"
    assert (after["status"], after["cancellation"]) == ("cancelled", {"origin": "seller", "reason": "never used it"})
    # A cancelled subscription can still be refunded (here: nothing is left), and by the admin too.
    admin.post(refunds_path(sub), {}, expect=409)


# ---------------------------------------------------------------------------------------------- the gateway


def test_the_sandbox_gateway_refunds_once_per_key_and_never_beyond_the_charge(recur: Running, producer: Api) -> None:
    sub = subscribe(producer, price=1000)
    loaded: Subscription = recur.services.events.load(sub["id"], Subscription)
    (charge,) = loaded.paid_charges.values()
    gateway = recur.services.gateway

    first = gateway.refund(f"{sub['id']}:r1", charge.gateway_charge_id, 600, "BRL")
    repeated = gateway.refund(f"{sub['id']}:r1", charge.gateway_charge_id, 600, "BRL")
    beyond = gateway.refund(f"{sub['id']}:r2", charge.gateway_charge_id, 401, "BRL")

    assert first == repeated and first.status == "succeeded" and first.gateway_refund_id
    assert (beyond.status, beyond.reason) == ("failed", "amount_exceeds_charge")
    assert gateway.refund(f"{sub['id']}:r2", charge.gateway_charge_id, 401, "BRL") == beyond
    assert ledger(recur, sub) == [(f"{sub['id']}:r1", 600, "succeeded"), (f"{sub['id']}:r2", 401, "failed")]


def test_a_refund_whose_answer_was_lost_in_a_crash_is_settled_by_the_scheduler_with_the_same_key(recur: Running,
                                                                                                producer: Api) -> None:
    sub = subscribe(producer)
    services = recur.services
    crashed: Subscription = services.events.load(sub["id"], Subscription)
    request = crashed.begin_refund(services.clock.now(), system_actor())
    services.events.store(crashed)
    services.gateway.refund(request.key, request.gateway_charge_id, request.amount.amount, request.amount.currency)
    # ... and the process died before recording the gateway's answer: the refund is in flight, due at once.
    assert producer.get(refunds_path(sub))["items"][0]["status"] == "pending"

    settled = bill_subscription(services, sub["id"], system_actor())

    assert settled.refunds[request.refund_id].status == "succeeded" and settled.total_paid == 0
    assert ledger(recur, sub) == [(request.key, 4990, "succeeded")]
    assert settled.next_due_at == settled.next_charge_at  # nothing of the refund is left to do


def test_the_next_refund_request_settles_an_answer_that_never_came_before_deciding(recur: Running, producer: Api) -> None:
    sub = subscribe(producer)
    services = recur.services
    crashed: Subscription = services.events.load(sub["id"], Subscription)
    lost = crashed.begin_refund(services.clock.now(), system_actor(), amount=Money(4000, "BRL"))
    services.events.store(crashed)

    # The lost answer is asked for first (4000 went back), so 990 is what is left.
    producer.post(refunds_path(sub), {"amount": {"amount": 991, "currency": "BRL"}}, expect=422)
    made = producer.post(refunds_path(sub), {}, expect=201)

    assert made["amount"]["amount"] == 990
    statuses = {item["id"]: item["status"] for item in producer.get(refunds_path(sub))["items"]}
    assert statuses == {lost.refund_id: "succeeded", made["id"]: "succeeded"}
    assert [key for key, _, _ in ledger(recur, sub)] == [lost.key, made["id"]]


def test_a_boleto_refund_is_pending_until_the_bank_transfer_is_done(recur: Running, producer: Api, admin: Api) -> None:
    sub = subscribe(producer, boleto=True)
    admin.post(f"/v1/sandbox/boletos/{sub['boleto']['id']}/pay")

    made = producer.post(refunds_path(sub), {}, expect=201)

    assert made["status"] == "pending" and made["gateway_charge_id"] == f"boleto:{sub['boleto']['id']}"
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["total_paid"]["amount"] == 4990  # nothing went back yet
    now = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"])
    admin.post("/v1/sandbox/clock/advance", {"to": (now + PENDING_REFUND_RECHECK).isoformat()})
    settled = producer.get(f"{refunds_path(sub)}/{made['id']}")
    assert (settled["status"], settled["settled_at"] is not None) == ("succeeded", True)
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["total_paid"]["amount"] == 0
    assert ledger(recur, sub) == [(made["id"], 4990, "succeeded")]


def test_refunds_and_disputes_reported_by_the_gateway_are_recorded_once(recur: Running, producer: Api) -> None:
    sub = subscribe(producer)
    charge = next(iter(recur.services.events.load(sub["id"], Subscription).paid_charges.values()))
    gateway_id = charge.gateway_charge_id

    assert refunds.record_external_refund(recur.services, sub["id"], gateway_id, "re_dashboard_1", 990, "BRL", GATEWAY)
    assert not refunds.record_external_refund(recur.services, sub["id"], gateway_id, "re_dashboard_1", 990, "BRL", GATEWAY)
    assert refunds.record_dispute_opened(recur.services, sub["id"], gateway_id, "dp_1", 4000, "BRL", "fraudulent", GATEWAY)
    assert not refunds.record_dispute_opened(recur.services, sub["id"], gateway_id, "dp_1", 4000, "BRL", "fraudulent", GATEWAY)
    producer.post(refunds_path(sub), {}, expect=409)  # the dispute decides
    assert refunds.record_dispute_closed(recur.services, sub["id"], gateway_id, "dp_1", "lost", GATEWAY)
    assert not refunds.record_dispute_closed(recur.services, sub["id"], gateway_id, "dp_1", "lost", GATEWAY)

    (external,) = producer.get(refunds_path(sub))["items"]
    assert (external["external"], external["gateway_refund_id"], external["amount"]["amount"]) == (True, "re_dashboard_1", 990)
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["total_paid"]["amount"] == 0
    assert ledger(recur, sub) == []  # made at the gateway: recur only recorded it


# ---------------------------------------------------------------------------------------------- reports, rebuild, e-mail


@pytest.fixture(scope="module")
def refunded_month(recur: Running) -> dict[str, Any]:
    """Four subscriptions of one producer: partially refunded, refunded in full and cancelled, disputed (open), and a
    dispute lost."""
    api = Api(flask_call(recur.client))
    producer = api.new_producer("adm_integration", "Refunding Producer")
    admin = api.as_("adm_integration")
    partial, full, disputed, lost = (subscribe(producer, price=5000) for _ in range(4))
    producer.post(refunds_path(partial), {"amount": {"amount": 1500, "currency": "BRL"}}, expect=201)
    producer.post(refunds_path(full), {"cancel": True}, expect=201)
    for sub, dispute in ((disputed, "dp_open"), (lost, "dp_lost")):
        charge = next(iter(recur.services.events.load(sub["id"], Subscription).paid_charges.values()))
        refunds.record_dispute_opened(recur.services, sub["id"], charge.gateway_charge_id, f"{dispute}-{sub['id']}", 5000, "BRL",
                                      None, GATEWAY)
    charge = next(iter(recur.services.events.load(lost["id"], Subscription).paid_charges.values()))
    refunds.record_dispute_closed(recur.services, lost["id"], charge.gateway_charge_id, f"dp_lost-{lost['id']}", "lost", GATEWAY)
    producer.post(f"/v1/subscriptions/{lost['id']}/cancel", {"reason": "chargeback"})
    recur.caught_up()
    today = datetime.fromisoformat(admin.get("/v1/sandbox/clock")["now"]).date()
    return {"producer": producer, "today": today, "subs": {"partial": partial, "full": full, "disputed": disputed, "lost": lost}}


def test_sales_rows_show_what_went_back_of_each_charge(recur: Running, refunded_month: dict[str, Any]) -> None:
    rows = sales_rows(recur, refunded_month["producer"], refunded_month["today"])
    by_subscription = {row["subscription_id"]: row for row in rows.values()}
    subs = refunded_month["subs"]

    seen = {name: (by_subscription[sub["id"]]["status"], by_subscription[sub["id"]]["refunded_amount"]["amount"],
                   by_subscription[sub["id"]]["dispute_status"]) for name, sub in subs.items()}

    assert seen == {"partial": ("partially_refunded", 1500, None), "full": ("refunded", 5000, None),
                    "disputed": ("disputed", 0, "open"), "lost": ("disputed", 5000, "lost")}


def test_totals_and_the_dashboards_ltv_are_net_of_refunds_and_lost_disputes(recur: Running, refunded_month: dict[str, Any]) -> None:
    producer, today, subs = refunded_month["producer"], refunded_month["today"], refunded_month["subs"]
    report = producer.get(f"/v1/reports/subscriptions?from={today}&to={today}")["items"]
    listed = producer.get("/v1/subscriptions?limit=100")["items"]

    expected = {"partial": 3500, "full": 0, "disputed": 5000, "lost": 0}
    assert {name: next(i["total_paid"]["amount"] for i in report if i["subscription_id"] == sub["id"])
            for name, sub in subs.items()} == expected
    assert {name: next(i["total_paid"]["amount"] for i in listed if i["id"] == sub["id"]) for name, sub in subs.items()} == expected
    assert {name: producer.get(f"/v1/subscriptions/{sub['id']}")["total_paid"]["amount"] for name, sub in subs.items()} == expected
    board = producer.get(f"/v1/dashboards/cancellations?from={today}&to={today}")
    assert board["cancellations"] == 2 and board["ltv"] == {"amount": 0, "currency": "BRL"}  # full refund, lost dispute


def test_read_models_with_refunds_and_disputes_equal_a_rebuild(recur: Running, refunded_month: dict[str, Any]) -> None:
    recur.caught_up()
    diff = differences(recur.services.db, recur.services.events, list(PROJECTIONS.values()))
    assert set(diff.values()) == {0}, diff


def test_the_subscriber_is_told_of_each_refund_once(recur: Running, producer: Api) -> None:
    sub = subscribe(producer)
    email = producer.get(f"/v1/subscriptions/{sub['id']}")["subscriber"]["email"]
    producer.post(refunds_path(sub), {"amount": {"amount": 1990, "currency": "BRL"}}, expect=201, Idempotency_Key="mail-once")
    producer.post(refunds_path(sub), {"amount": {"amount": 1990, "currency": "BRL"}}, expect=201, Idempotency_Key="mail-once")

    told = recur.mail.one(email, "refund")

    text = str(told.message.get_body(("plain",)).get_content())
    charge = next(iter(recur.services.events.load(sub["id"], Subscription).paid_charges.values()))
    assert "R$" in text and "19.90" in text.replace(",", ".") and charge.gateway_charge_id in text
    assert told.message["From"].addresses[0].display_name == "Ana Courses"
    assert recur.services.db.fetchall("SELECT dedup_key FROM email_outbox WHERE kind = 'refund' AND recipient = %s", (email,)) == [
        (f"refund:{sub['id']}:r1",)]
