"""Billing scenarios against `recur up`, driven by the shared sandbox clock.

The sandbox clock is one for the whole recur instance and other tests move it too: every
expectation here is computed from the clock or the `started_at` read in the test itself, and
only this test's own subscriptions are looked at. Subscriptions are cancelled when a test ends
so that they do not add billing work to the clock advances of later tests.

"Charged once" is proven by the gateway ledger (`gateway_charges`): at most one approved row
per (subscription, cycle, installment).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg2
import pytest
from dateutil.relativedelta import relativedelta
from recur_api import Api, http_call
from recur_process import ADMIN, RecurProcess, free_port

PRICE = 4990
APPROVES = "4242424242424242"
DECLINES = "4000000000000002"


# ------------------------------------------------------------------ helpers
def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "BRL"}


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def months(moment: datetime, n: int) -> datetime:
    """Calendar months from an anchor (clamped at month end), as billing dates are counted."""
    return moment + relativedelta(months=n)


def next_31st(moment: datetime) -> datetime:
    day = moment + timedelta(days=1)
    while day.day != 31:
        day += timedelta(days=1)
    return day


def clock(api: Api) -> datetime:
    """The shared sandbox clock, which only the admin reads and moves."""
    return datetime.fromisoformat(api.as_(ADMIN).get("/v1/sandbox/clock")["now"])


def advance_to(api: Api, moment: datetime) -> None:
    """Move the shared clock to `moment` (as the admin), running everything due on the way."""
    api.as_(ADMIN).post("/v1/sandbox/clock/advance", {"to": moment.isoformat()})


@dataclass(frozen=True)
class Charge:
    at: datetime
    amount: int
    cycle: int
    installment: int


def events(api: Api, sub_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/v1/subscriptions/{sub_id}/events")["items"]
    for item in items:
        item["name"] = item["type"].rsplit(".", 1)[-1]
    return items


def names(api: Api, sub_id: str) -> list[str]:
    return [e["name"] for e in events(api, sub_id) if e["name"] != "Rescheduled"]


def charges(api: Api, sub_id: str) -> list[Charge]:
    """The approved charges, from the audit trail (`ChargeSucceeded`)."""
    return [
        Charge(datetime.fromisoformat(e["occurred_at"]), e["data"]["amount"], e["data"]["cycle"], e["data"]["installment"])
        for e in events(api, sub_id)
        if e["name"] == "ChargeSucceeded"
    ]


def failures(api: Api, sub_id: str) -> list[dict[str, Any]]:
    return [e for e in events(api, sub_id) if e["name"] == "ChargeFailed"]


def ledger(recur_up: RecurProcess, sub_id: str) -> list[tuple[str, str, int, str]]:
    """The gateway's rows for a subscription: (idempotency_key, kind, amount, outcome)."""
    assert recur_up.runtime is not None
    conn = psycopg2.connect(recur_up.runtime["database_url"])
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT idempotency_key, kind, amount, outcome FROM gateway_charges WHERE idempotency_key LIKE %s "
                "ORDER BY created_at, idempotency_key",
                (f"{sub_id}:%",),
            )
            return [(str(k), str(kind), int(a), str(o)) for k, kind, a, o in cur.fetchall()]
    finally:
        conn.close()


def approved_installments(rows: list[tuple[str, str, int, str]]) -> Counter[str]:
    """Approved (or paid) gateway rows per `c<cycle>:i<installment>`: every value must be 1."""
    return Counter(":".join(key.split(":")[1:3]) for key, _, _, outcome in rows if outcome in ("approved", "paid"))


def reprocess(recur_up: RecurProcess, token: str, sub_id: str) -> tuple[int, Any]:
    """POST .../reprocess on a session of its own (for parallel calls)."""
    return http_call(recur_up.url)("POST", f"/v1/subscriptions/{sub_id}/reprocess", None, {"Authorization": f"Bearer {token}"})


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def api(recur_up: RecurProcess) -> Api:
    return Api(http_call(recur_up.url))


@pytest.fixture
def producer(api: Api) -> Api:
    return api.new_producer(ADMIN)


@pytest.fixture
def mine(api: Api) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Register a subscription of this test; it is cancelled at the end so it bills no more."""
    subs: list[dict[str, Any]] = []

    def register(sub: dict[str, Any]) -> dict[str, Any]:
        subs.append(sub)
        return sub

    yield register
    admin = api.as_(ADMIN)
    for sub in subs:
        admin.request("POST", f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "test over"})


# ------------------------------------------------------------------ 1. a year of a monthly plan
def test_a_year_of_a_monthly_plan_is_thirteen_charges_on_the_anchor_day_of_each_month(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(price=money(PRICE))
    # Start on a 31st: the dates are counted from the anchor, so a 30-day month (or February)
    # does not drag the following charges to the 30th (or the 28th) for good.
    advance_to(producer, next_31st(clock(producer)))
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None and t0.day == 31 and sub["status"] == "active"

    # 12 calendar months rather than 365 days: a year spanning a 29 February has 366 days.
    advance_to(producer, months(t0, 12))

    assert [c.at for c in charges(producer, sub["id"])] == [months(t0, k) for k in range(13)]
    assert [(c.cycle, c.installment, c.amount) for c in charges(producer, sub["id"])] == [(k, 1, PRICE) for k in range(1, 14)]
    assert sum(c.at.day == 31 for c in charges(producer, sub["id"])) == 8, "the 31st of every month that has one"
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "active"
    assert view["paid_recurrences"] == 13
    assert view["total_paid"] == money(13 * PRICE)
    assert at(view["current_period_start"]) == months(t0, 12)
    assert at(view["next_charge_at"]) == months(t0, 13)
    rows = ledger(recur_up, sub["id"])
    assert approved_installments(rows) == Counter({f"c{k}:i1": 1 for k in range(1, 14)})
    assert len(rows) == 13


# ------------------------------------------------------------------ 2. trials
def test_a_trial_is_free_and_converts_into_the_first_charge_at_its_end(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(trial_days=7)
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None
    trial_end = t0 + timedelta(days=7)
    assert sub["status"] == "trialing"
    assert at(sub["trial_ends_at"]) == trial_end
    assert at(sub["next_charge_at"]) == trial_end
    assert sub["paid_recurrences"] == 0
    assert ledger(recur_up, sub["id"]) == []

    advance_to(producer, t0 + timedelta(days=6))
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "trialing"
    assert ledger(recur_up, sub["id"]) == []

    advance_to(producer, trial_end)
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "active"
    assert view["paid_recurrences"] == 1 and view["total_paid"] == money(PRICE)
    assert at(view["current_period_start"]) == trial_end
    assert at(view["current_period_end"]) == months(trial_end, 1)
    assert at(view["next_charge_at"]) == months(trial_end, 1)
    assert [c.at for c in charges(producer, sub["id"])] == [trial_end]
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter({"c1:i1": 1})


@pytest.mark.parametrize("when", ["now", "period_end"])
def test_a_trial_cancelled_by_the_subscriber_during_the_trial_is_never_charged(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess, when: str
) -> None:
    plan = producer.new_plan(trial_days=7)
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None
    trial_end = t0 + timedelta(days=7)
    subscriber = producer.as_(sub["subscriber_token"])

    advance_to(producer, t0 + timedelta(days=2))
    cancelled = subscriber.post(f"/v1/subscriptions/{sub['id']}/cancel", {"when": when, "reason": "only wanted a look"})
    if when == "now":
        assert cancelled["status"] == "cancelled"
        assert at(cancelled["cancelled_at"]) == t0 + timedelta(days=2)
    else:
        assert cancelled["status"] == "trialing"
        assert at(cancelled["cancel_at"]) == trial_end
        assert cancelled["next_charge_at"] is None

    advance_to(producer, trial_end + timedelta(days=1))
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "cancelled"
    assert view["cancellation"] == {"origin": "customer", "reason": "only wanted a look"}
    assert at(view["cancelled_at"]) == (trial_end if when == "period_end" else t0 + timedelta(days=2))
    assert view["paid_recurrences"] == 0 and view["total_paid"] == money(0)
    assert ledger(recur_up, sub["id"]) == []
    assert "ChargeAttempted" not in names(producer, sub["id"])


# ------------------------------------------------------------------ 3. a refusal recovered on a retry
@pytest.mark.parametrize("reset_billing_date", [True, False])
def test_a_refused_renewal_recovered_on_the_first_retry(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess, reset_billing_date: bool
) -> None:
    plan = producer.new_plan(retry_policy={"max_retries": 5, "window_days": 15, "reset_billing_date": reset_billing_date})
    card = producer.card(APPROVES)
    sub = mine(producer.subscribe(plan["id"], card))
    t0 = at(sub["started_at"])
    assert t0 is not None and sub["status"] == "active"
    producer.as_(ADMIN).post(f"/v1/sandbox/card-tokens/{card}/outcomes", {"outcomes": ["insufficient_funds", "approved"]}, expect=201)

    renewal = months(t0, 1)
    advance_to(producer, renewal)
    refused = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert refused["status"] == "past_due"
    first_retry = renewal + timedelta(days=15) / 5
    assert refused["retry"]["attempt"] == 1
    assert refused["retry"]["max_retries"] == 5
    assert at(refused["retry"]["next_retry_at"]) == first_retry
    assert at(refused["retry"]["window_ends_at"]) == renewal + timedelta(days=15)
    assert at(refused["next_charge_at"]) == first_retry
    assert refused["paid_recurrences"] == 1
    [failed] = failures(producer, sub["id"])
    assert failed["data"]["reason"] == "insufficient_funds"
    assert at(failed["occurred_at"]) == renewal

    advance_to(producer, first_retry)
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "active"
    assert view["retry"] is None
    assert view["paid_recurrences"] == 2 and view["total_paid"] == money(2 * PRICE)
    assert [c.at for c in charges(producer, sub["id"])] == [t0, first_retry]
    if reset_billing_date:
        # The anchor moved to the day the retry succeeded.
        assert at(view["current_period_start"]) == first_retry
        assert at(view["next_charge_at"]) == months(first_retry, 1)
    else:
        assert at(view["current_period_start"]) == renewal
        assert at(view["next_charge_at"]) == months(t0, 2)
    rows = ledger(recur_up, sub["id"])
    assert [(k.split(":", 1)[1], outcome) for k, _, _, outcome in rows] == [
        ("c1:i1:a1", "approved"),
        ("c2:i1:a1", "insufficient_funds"),
        ("c2:i1:a2", "approved"),
    ]


# ------------------------------------------------------------------ 4. retries exhausted, then reprocessed
def test_retries_exhausted_make_the_subscription_inactive_until_a_new_card_is_reprocessed(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(retry_policy={"max_retries": 2, "window_days": 4})
    card = producer.card(APPROVES)
    sub = mine(producer.subscribe(plan["id"], card))
    t0 = at(sub["started_at"])
    assert t0 is not None and sub["status"] == "active"
    producer.as_(ADMIN).post(f"/v1/sandbox/card-tokens/{card}/outcomes", {"outcomes": ["card_declined"] * 5}, expect=201)

    renewal = months(t0, 1)
    advance_to(producer, renewal)
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "past_due"
    advance_to(producer, renewal + timedelta(days=10))

    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "inactive"
    assert view["retry"] is None and view["next_charge_at"] is None
    assert view["paid_recurrences"] == 1
    failed = failures(producer, sub["id"])
    assert len(failed) == 3, "the first refusal and max_retries=2 retries"
    first_refusal = at(failed[0]["occurred_at"])
    assert first_refusal == renewal
    assert [at(f["occurred_at"]) for f in failed] == [renewal, renewal + timedelta(days=2), renewal + timedelta(days=4)]
    assert all(first_refusal <= at(f["occurred_at"]) <= first_refusal + timedelta(days=4) for f in failed)  # type: ignore[operator]
    assert [s["id"] for s in producer.get(f"/v1/subscriptions?plan_id={plan['id']}&status=inactive")["items"]] == [sub["id"]]
    trail = names(producer, sub["id"])
    assert trail.count("RetryScheduled") == 2
    assert trail.index("RetriesExhausted") > max(i for i, n in enumerate(trail) if n == "ChargeFailed")
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter({"c1:i1": 1}), "billing stopped after the last retry"

    new_card = {"type": "card", "card_token": producer.card("5555555555554444")}
    changed = producer.put(f"/v1/subscriptions/{sub['id']}/payment-method", new_card)
    assert changed["status"] == "inactive"
    assert changed["payment_method"]["last4"] == "4444"
    # The subscriber clicks "pay now" several times at once: one charge.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: reprocess(recur_up, producer.token, sub["id"]), range(4)))
    assert {status for status, _ in answers} <= {200, 409}, answers
    assert "active" in [body["status"] for status, body in answers if status == 200], answers
    reprocessed = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert reprocessed["status"] == "active"
    assert reprocessed["paid_recurrences"] == 2
    assert reprocessed["total_paid"] == money(2 * PRICE)
    # Back from inactive, billing restarts from the day it was paid: the inactive days are not billed.
    assert at(reprocessed["current_period_start"]) == renewal + timedelta(days=10)
    assert at(reprocessed["next_charge_at"]) == months(renewal + timedelta(days=10), 1)
    rows = ledger(recur_up, sub["id"])
    assert approved_installments(rows) == Counter({"c1:i1": 1, "c2:i1": 1})
    assert [outcome for _, _, _, outcome in rows].count("card_declined") == 3


def test_a_hard_decline_pauses_retries_until_a_new_card_or_the_end_of_the_window(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(retry_policy={"max_retries": 5, "window_days": 15})
    cards = [producer.card(APPROVES), producer.card(APPROVES)]
    new_card, abandoned = (mine(producer.subscribe(plan["id"], card)) for card in cards)
    t0 = at(new_card["started_at"])
    assert t0 is not None and at(abandoned["started_at"]) == t0
    for card in cards:
        producer.as_(ADMIN).post(f"/v1/sandbox/card-tokens/{card}/outcomes", {"outcomes": ["stolen_card", "approved"]}, expect=201)

    renewal = months(t0, 1)
    advance_to(producer, renewal)
    for sub in (new_card, abandoned):
        view = producer.get(f"/v1/subscriptions/{sub['id']}")
        assert view["status"] == "past_due"
        assert view["retry"]["next_retry_at"] is None, "a stolen card is not retried"
        assert at(view["retry"]["window_ends_at"]) == renewal + timedelta(days=15)
        assert view["next_charge_at"] is None

    advance_to(producer, renewal + timedelta(days=5))
    for sub in (new_card, abandoned):
        assert len(failures(producer, sub["id"])) == 1, "no retry while waiting for a new payment method"
        assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "past_due"

    changed = producer.put(f"/v1/subscriptions/{new_card['id']}/payment-method", {"type": "card", "card_token": producer.card(APPROVES)})
    assert at(changed["retry"]["next_retry_at"]) == renewal + timedelta(days=5), "retried at once with the new card"
    advance_to(producer, renewal + timedelta(days=15))

    recovered = producer.get(f"/v1/subscriptions/{new_card['id']}")
    assert recovered["status"] == "active" and recovered["paid_recurrences"] == 2
    assert [c.at for c in charges(producer, new_card["id"])] == [t0, renewal + timedelta(days=5)]
    assert approved_installments(ledger(recur_up, new_card["id"])) == Counter({"c1:i1": 1, "c2:i1": 1})
    gone = producer.get(f"/v1/subscriptions/{abandoned['id']}")
    assert gone["status"] == "inactive" and gone["paid_recurrences"] == 1
    assert "RetriesExhausted" in names(producer, abandoned["id"])
    assert [outcome for _, _, _, outcome in ledger(recur_up, abandoned["id"])] == ["approved", "stolen_card"]


# ------------------------------------------------------------------ 5. smart installments
def test_an_annual_plan_in_twelve_installments_charges_monthly_and_renews_after_twelve_months(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(name="Annual", periodicity="annual", price=money(12010), max_installments=12)
    sub = mine(producer.subscribe(plan["id"], installments=12))
    t0 = at(sub["started_at"])
    assert t0 is not None
    assert sub["status"] == "active" and sub["installments"] == 12
    assert sub["total_paid"] == money(1010), "12010 / 12 = 1000, the remainder 10 on the first"
    assert at(sub["current_period_end"]) == months(t0, 12)
    assert at(sub["next_charge_at"]) == months(t0, 1)

    advance_to(producer, months(t0, 12))

    expected = [Charge(months(t0, k), 1010 if k == 0 else 1000, 1, k + 1) for k in range(12)]
    expected.append(Charge(months(t0, 12), 1010, 2, 1))
    assert charges(producer, sub["id"]) == expected
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "active"
    assert view["total_paid"] == money(12010 + 1010)
    assert at(view["current_period_start"]) == months(t0, 12)
    assert at(view["current_period_end"]) == months(t0, 24)
    assert at(view["next_charge_at"]) == months(t0, 13)
    expected_keys = {f"c1:i{i}": 1 for i in range(1, 13)} | {"c2:i1": 1}
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter(expected_keys)


# ------------------------------------------------------------------ 6. boleto
def test_a_paid_boleto_activates_the_subscription(producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess) -> None:
    plan = producer.new_plan(price=money(PRICE))
    sub = mine(producer.subscribe(plan["id"], boleto=True))
    t0 = at(sub["started_at"])
    assert t0 is not None
    assert sub["status"] == "pending"
    assert sub["paid_recurrences"] == 0
    boleto = sub["boleto"]
    assert boleto["amount"] == money(PRICE)
    assert boleto["due_date"] == (t0 + timedelta(days=3)).date().isoformat()
    assert boleto["line"].isdigit()

    paid = producer.as_(ADMIN).post(f"/v1/sandbox/boletos/{boleto['id']}/pay")
    assert paid["status"] == "active"
    assert paid["boleto"] is None
    assert paid["paid_recurrences"] == 1 and paid["total_paid"] == money(PRICE)
    assert at(paid["next_charge_at"]) == months(t0, 1)
    trail = names(producer, sub["id"])
    assert trail.index("BoletoIssued") < trail.index("BoletoPaid") < trail.index("ChargeSucceeded")
    assert [(kind, amount, outcome) for _, kind, amount, outcome in ledger(recur_up, sub["id"])] == [("boleto", PRICE, "paid")]


def test_an_unpaid_boleto_expires_the_subscription_and_reprocess_issues_a_new_one(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(price=money(PRICE))
    sub = mine(producer.subscribe(plan["id"], boleto=True))
    late = mine(producer.subscribe(plan["id"], boleto=True))
    t0 = at(sub["started_at"])
    assert t0 is not None
    first = sub["boleto"]

    advance_to(producer, t0 + timedelta(days=2))
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "pending"
    advance_to(producer, t0 + timedelta(days=3))
    expired = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert expired["status"] == "inactive"
    assert expired["boleto"] is None and expired["next_charge_at"] is None
    assert expired["paid_recurrences"] == 0
    assert "BoletoExpired" in names(producer, sub["id"])
    assert producer.get(f"/v1/subscriptions/{late['id']}")["status"] == "inactive"

    reprocessed = producer.post(f"/v1/subscriptions/{sub['id']}/reprocess")
    assert reprocessed["status"] != "active", "never active without a paid charge"
    second = reprocessed["boleto"]
    assert second is not None and second["id"] != first["id"]
    assert second["amount"] == money(PRICE)
    paid = producer.as_(ADMIN).post(f"/v1/sandbox/boletos/{second['id']}/pay")
    assert paid["status"] == "active" and paid["paid_recurrences"] == 1
    producer.as_(ADMIN).post(f"/v1/sandbox/boletos/{first['id']}/pay", expect=409)  # voided by the new one, and its installment is paid
    rows = ledger(recur_up, sub["id"])
    assert [(kind, outcome) for _, kind, _, outcome in rows] == [("boleto", "issued"), ("boleto", "paid")]

    # Money the bank received late is still taken: an expired boleto paid reactivates the subscription.
    paid_late = producer.as_(ADMIN).post(f"/v1/sandbox/boletos/{late['boleto']['id']}/pay")
    assert paid_late["status"] == "active" and paid_late["paid_recurrences"] == 1
    assert at(paid_late["next_charge_at"]) == months(t0 + timedelta(days=3), 1)


# ------------------------------------------------------------------ 7. grandfathered prices
def test_a_new_plan_price_applies_to_new_subscribers_only(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(price=money(PRICE))
    offer = producer.post(f"/v1/plans/{plan['id']}/offers", {"name": "Launch", "price": money(3990)}, expect=201)
    old = mine(producer.subscribe(plan["id"]))
    old_offer = mine(producer.subscribe(plan["id"], offer_id=offer["id"]))
    t0 = at(old["started_at"])
    assert t0 is not None
    assert producer.patch(f"/v1/plans/{plan['id']}", {"price": money(5990)})["price"] == money(5990)
    assert producer.patch(f"/v1/offers/{offer['id']}", {"price": money(2990)})["price"] == money(2990)
    new = mine(producer.subscribe(plan["id"]))
    new_offer = mine(producer.subscribe(plan["id"], offer_id=offer["id"]))
    assert old["price"] == money(PRICE) and new["price"] == money(5990)
    assert old_offer["price"] == money(3990) and new_offer["price"] == money(2990)
    assert new["total_paid"] == money(5990)

    advance_to(producer, months(t0, 1))

    assert [c.amount for c in charges(producer, old["id"])] == [PRICE, PRICE]
    assert [c.amount for c in charges(producer, new["id"])] == [5990, 5990]
    assert [c.amount for c in charges(producer, old_offer["id"])] == [3990, 3990]
    assert [c.amount for c in charges(producer, new_offer["id"])] == [2990, 2990]
    assert producer.get(f"/v1/subscriptions/{old['id']}")["total_paid"] == money(2 * PRICE)
    assert [amount for _, _, amount, outcome in ledger(recur_up, old["id"]) if outcome == "approved"] == [PRICE, PRICE]


# ------------------------------------------------------------------ 8. plan change at renewal
def test_a_plan_change_takes_effect_at_the_next_renewal_with_the_new_price_and_period(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    monthly = producer.new_plan(price=money(PRICE))
    quarterly = producer.post(
        f"/v1/products/{monthly['product_id']}/plans",
        {"name": "Quarterly", "periodicity": "quarterly", "price": money(12990)},
        expect=201,
    )
    elsewhere = producer.new_plan("Piano course", price=money(1990))
    sub = mine(producer.subscribe(monthly["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None

    problem = producer.post(f"/v1/subscriptions/{sub['id']}/change-plan", {"plan_id": elsewhere["id"]}, expect=422)
    assert "plan_id" in problem["errors"]

    subscriber = producer.as_(sub["subscriber_token"])
    changed = subscriber.post(f"/v1/subscriptions/{sub['id']}/change-plan", {"plan_id": quarterly["id"]})
    # The period being enjoyed is unchanged.
    assert changed["plan_id"] == monthly["id"]
    assert changed["price"] == money(PRICE) and changed["periodicity"] == "monthly"
    assert at(changed["current_period_end"]) == months(t0, 1)
    assert at(changed["next_charge_at"]) == months(t0, 1)
    assert changed["pending_plan_change"]["plan_id"] == quarterly["id"]
    assert at(changed["pending_plan_change"]["effective_at"]) == months(t0, 1)
    assert "PlanChanged" in names(producer, sub["id"])

    advance_to(producer, months(t0, 1))
    renewed = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert renewed["plan_id"] == quarterly["id"]
    assert renewed["price"] == money(12990) and renewed["periodicity"] == "quarterly"
    assert renewed["pending_plan_change"] is None
    assert at(renewed["current_period_start"]) == months(t0, 1)
    assert at(renewed["current_period_end"]) == months(t0, 4)
    assert at(renewed["next_charge_at"]) == months(t0, 4)

    advance_to(producer, months(t0, 4))
    assert [(c.at, c.amount) for c in charges(producer, sub["id"])] == [
        (t0, PRICE),
        (months(t0, 1), 12990),
        (months(t0, 4), 12990),
    ]
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter({"c1:i1": 1, "c2:i1": 1, "c3:i1": 1})


# ------------------------------------------------------------------ 9. billing day
def test_a_new_billing_day_moves_the_next_charges_to_that_day(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan(price=money(PRICE))
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None
    day = 10 if t0.day != 10 else 20
    first_on_day = months(t0, 1).replace(day=day)

    moved = producer.as_(sub["subscriber_token"]).put(f"/v1/subscriptions/{sub['id']}/billing-day", {"day": day})
    assert at(moved["next_charge_at"]) == first_on_day
    assert at(moved["current_period_end"]) == first_on_day
    assert "BillingDayChanged" in names(producer, sub["id"])

    advance_to(producer, months(first_on_day, 1))
    paid = charges(producer, sub["id"])
    assert [c.at for c in paid] == [t0, first_on_day, months(first_on_day, 1)]
    assert {c.at.day for c in paid[1:]} == {day}
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert at(view["next_charge_at"]) == months(first_on_day, 2)
    assert view["paid_recurrences"] == 3
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter({"c1:i1": 1, "c2:i1": 1, "c3:i1": 1})


# ------------------------------------------------------------------ 10. cancellation
def test_the_cancellation_origin_comes_from_the_credentials_and_a_second_cancel_is_a_conflict(
    api: Api, producer: Api, mine: Callable[..., dict[str, Any]]
) -> None:
    plan = producer.new_plan()
    by_customer, by_seller, by_admin = (mine(producer.subscribe(plan["id"])) for _ in range(3))
    now = clock(producer)
    cases = [
        (producer.as_(by_customer["subscriber_token"]), by_customer, "customer", "subscriber"),
        (producer, by_seller, "seller", "producer"),
        (api.as_(ADMIN), by_admin, "admin", "admin"),
    ]
    for who, sub, origin, actor_kind in cases:
        cancelled = who.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": f"by {origin}"})
        assert cancelled["status"] == "cancelled"
        assert cancelled["cancellation"] == {"origin": origin, "reason": f"by {origin}"}
        assert at(cancelled["cancelled_at"]) == now
        assert cancelled["next_charge_at"] is None
        [event] = [e for e in events(producer, sub["id"]) if e["name"] == "Cancelled"]
        assert event["actor"]["kind"] == actor_kind
        assert event["data"]["origin"] == origin
        problem = who.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "again"}, expect=409)
        assert problem["status"] == 409
        assert producer.get(f"/v1/subscriptions/{sub['id']}")["cancellation"]["reason"] == f"by {origin}"


def test_a_subscription_waiting_for_a_retry_can_be_cancelled_and_is_not_retried(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan()
    sub = mine(producer.subscribe(plan["id"], producer.card(DECLINES)))
    t0 = at(sub["started_at"])
    assert t0 is not None
    assert sub["status"] == "pending" and sub["retry"]["attempt"] == 1
    cancelled = producer.as_(sub["subscriber_token"]).post(f"/v1/subscriptions/{sub['id']}/cancel", {"when": "period_end"})
    assert cancelled["status"] == "cancelled", "nothing was paid, so there is no period to wait for"
    assert cancelled["retry"] is None and cancelled["next_charge_at"] is None

    advance_to(producer, t0 + timedelta(days=16))
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "cancelled"
    assert len(failures(producer, sub["id"])) == 1
    assert [outcome for _, _, _, outcome in ledger(recur_up, sub["id"])] == ["card_declined"]


def test_a_cancellation_at_period_end_keeps_the_paid_period_and_stops_the_renewal(
    producer: Api, mine: Callable[..., dict[str, Any]], recur_up: RecurProcess
) -> None:
    plan = producer.new_plan()
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None
    period_end = months(t0, 1)

    scheduled = producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"when": "period_end", "reason": "too expensive"})
    assert scheduled["status"] == "active"
    assert at(scheduled["cancel_at"]) == period_end
    assert scheduled["cancelled_at"] is None
    assert scheduled["next_charge_at"] is None
    producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"when": "period_end"}, expect=409)
    # A scheduled cancellation can still be made immediate.
    other = mine(producer.subscribe(plan["id"]))
    producer.post(f"/v1/subscriptions/{other['id']}/cancel", {"when": "period_end"})
    now = producer.post(f"/v1/subscriptions/{other['id']}/cancel", {"when": "now", "reason": "right now"})
    assert now["status"] == "cancelled" and at(now["cancelled_at"]) == t0 and now["cancel_at"] is None

    advance_to(producer, period_end - timedelta(hours=1))
    assert producer.get(f"/v1/subscriptions/{sub['id']}")["status"] == "active"
    advance_to(producer, period_end + timedelta(days=1))
    view = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert view["status"] == "cancelled"
    assert at(view["cancelled_at"]) == period_end
    assert view["cancellation"] == {"origin": "seller", "reason": "too expensive"}
    assert view["paid_recurrences"] == 1
    assert names(producer, sub["id"]).count("ChargeAttempted") == 1
    assert approved_installments(ledger(recur_up, sub["id"])) == Counter({"c1:i1": 1})
    [listed] = [s for s in producer.get(f"/v1/subscriptions?plan_id={plan['id']}&status=cancelled")["items"] if s["id"] == sub["id"]]
    assert listed["cancellation"] == {"origin": "seller", "reason": "too expensive"}
    assert at(listed["cancelled_at"]) == period_end


# ------------------------------------------------------------------ 11. as_of
def test_as_of_returns_the_subscription_as_it_was_at_that_instant(producer: Api, mine: Callable[..., dict[str, Any]]) -> None:
    plan = producer.new_plan()
    sub = mine(producer.subscribe(plan["id"]))
    t0 = at(sub["started_at"])
    assert t0 is not None
    advance_to(producer, t0 + timedelta(hours=2))
    cancelled = producer.post(f"/v1/subscriptions/{sub['id']}/cancel", {"reason": "bye"})
    assert cancelled["status"] == "cancelled"

    def as_of(moment: datetime, expect: int = 200) -> Any:
        return producer.get(f"/v1/subscriptions/{sub['id']}?as_of={quote(moment.isoformat())}", expect=expect)

    before = as_of(t0 + timedelta(hours=1))
    assert before["status"] == "active"
    assert before["cancelled_at"] is None and before["cancellation"] is None
    assert before["paid_recurrences"] == 1
    assert before["version"] < cancelled["version"]
    after = as_of(t0 + timedelta(hours=2))
    assert after["status"] == "cancelled"
    assert after["cancellation"] == {"origin": "seller", "reason": "bye"}
    as_of(t0 - timedelta(hours=1), expect=404)


@pytest.fixture(scope="module")
def fresh_recur(data_root: Any) -> Iterator[RecurProcess]:
    """A recur of its own whose sandbox clock nobody has moved: it stands at the instant recur
    first read it, so it falls behind the wall clock while recur runs (the shared one is far ahead)."""
    data_dir = data_root / f"e2e-fresh-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir()
    proc = RecurProcess(data_dir, free_port())
    proc.start()
    yield proc
    if proc.process is not None and proc.process.poll() is None:
        proc.stop()
    shutil.rmtree(data_dir, ignore_errors=True)  # its log stays beside it


def test_as_of_the_current_instant_is_the_current_state_in_a_sandbox_whose_clock_has_not_moved(fresh_recur: RecurProcess) -> None:
    producer = Api(http_call(fresh_recur.url)).new_producer(ADMIN)
    plan = producer.new_plan()
    wall_clock_moved_on = clock(producer) + timedelta(seconds=1)
    deadline = time.monotonic() + 10
    while datetime.now(UTC) < wall_clock_moved_on:  # the sandbox clock stands still while the wall clock moves on
        assert time.monotonic() < deadline, "the sandbox clock is ahead of the wall clock"
        time.sleep(0.05)
    sub = producer.subscribe(plan["id"])
    now = clock(producer)
    assert at(sub["started_at"]) == now
    current = producer.get(f"/v1/subscriptions/{sub['id']}")
    assert current["status"] == "active" and current["paid_recurrences"] == 1

    past = producer.get(f"/v1/subscriptions/{sub['id']}?as_of={quote(now.isoformat())}")
    assert (past["status"], past["paid_recurrences"], past["version"]) == ("active", 1, current["version"])
