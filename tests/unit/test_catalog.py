"""The catalog: plans validate their terms, and an edit records only what really changes."""

from __future__ import annotations

from typing import Any

import pytest
from domain_builders import ACTOR, names

from recur.domain.catalog import Offer, Plan, Producer, Product
from recur.domain.errors import RuleViolationError
from recur.domain.money import Money
from recur.domain.retry import RetryPolicy


def define_plan(**overrides: Any) -> Plan:
    terms: dict[str, Any] = {
        "producer_id": "producer-1",
        "product_id": "product-1",
        "name": "Gold",
        "periodicity": "monthly",
        "price": Money(4990, "BRL"),
        "trial_days": 0,
        "max_installments": 1,
        "retry_policy": RetryPolicy(),
        "renewal_reminder_days": None,
        "actor": ACTOR,
    }
    return Plan.define(**{**terms, **overrides})


def make_offer() -> Offer:
    price = {"amount": 2990, "currency": "BRL"}
    return Offer(producer_id="producer-1", plan_id="plan-1", name="Launch", price=price, actor=ACTOR)


def test_a_producer_and_a_product_are_recorded_with_their_names() -> None:
    producer = Producer(name="Acme", email="owner@acme.test", api_key_hash="sha256:abc", actor=ACTOR)
    product = Product(producer_id=str(producer.id), name="Course", actor=ACTOR)

    assert names(list(producer.collect_events())) == ["ProducerRegistered"]
    assert names(list(product.collect_events())) == ["ProductCreated"]
    assert (product.producer_id, product.name) == (str(producer.id), "Course")


def test_a_plan_keeps_its_terms_as_plain_data() -> None:
    plan = define_plan(periodicity="annual", max_installments=12, trial_days=7, renewal_reminder_days=5)

    assert names(list(plan.collect_events())) == ["PlanCreated"]
    assert plan.price == {"amount": 4990, "currency": "BRL"}
    assert plan.price_money == Money(4990, "BRL")
    assert plan.retry_policy == {"max_retries": 5, "window_days": 15, "reset_billing_date": False}
    assert plan.policy == RetryPolicy()
    assert plan.period_months == 12
    assert (plan.trial_days, plan.max_installments, plan.renewal_reminder_days) == (7, 12, 5)


def test_a_plan_needs_a_known_periodicity() -> None:
    with pytest.raises(RuleViolationError) as refused:
        define_plan(periodicity="weekly")
    assert refused.value.field == "periodicity"


@pytest.mark.parametrize(("periodicity", "months"), [("monthly", 1), ("bimonthly", 2), ("quarterly", 3), ("semiannual", 6), ("annual", 12)])
def test_a_plan_is_paid_in_at_most_one_installment_per_month_of_its_period(periodicity: str, months: int) -> None:
    assert define_plan(periodicity=periodicity, max_installments=months).max_installments == months
    with pytest.raises(RuleViolationError) as refused:
        define_plan(periodicity=periodicity, max_installments=months + 1)
    assert refused.value.field == "max_installments"


def test_a_plan_needs_at_least_one_installment() -> None:
    with pytest.raises(RuleViolationError) as refused:
        define_plan(max_installments=0)
    assert refused.value.field == "max_installments"


def test_a_trial_cannot_be_negative() -> None:
    with pytest.raises(RuleViolationError) as refused:
        define_plan(trial_days=-1)
    assert refused.value.field == "trial_days"


@pytest.mark.parametrize("amount", [0, -100])
def test_a_plan_price_must_be_positive(amount: int) -> None:
    with pytest.raises(RuleViolationError) as refused:
        define_plan(price=Money(amount, "BRL"))
    assert refused.value.field == "price"


def test_a_price_revision_is_recorded_when_the_price_changes() -> None:
    plan = define_plan()
    plan.collect_events()

    plan.revise({"price": {"amount": 5990, "currency": "BRL"}}, ACTOR)

    events = list(plan.collect_events())
    assert names(events) == ["PlanRevised"]
    assert events[0].changes == {"price": {"amount": 5990, "currency": "BRL"}}
    assert plan.price_money == Money(5990, "BRL")


def test_a_revision_that_changes_nothing_records_nothing() -> None:
    plan = define_plan()
    plan.collect_events()

    plan.revise({"name": "Gold", "price": {"amount": 4990, "currency": "BRL"}}, ACTOR)

    assert plan.collect_events() == []


def test_a_revision_records_only_the_fields_that_change() -> None:
    plan = define_plan()
    plan.collect_events()

    plan.revise({"name": "Platinum", "price": {"amount": 4990, "currency": "BRL"}, "renewal_reminder_days": 3}, ACTOR)

    (revised,) = plan.collect_events()
    assert revised.changes == {"name": "Platinum", "renewal_reminder_days": 3}
    assert (plan.name, plan.renewal_reminder_days) == ("Platinum", 3)


def test_a_revision_ignores_fields_that_cannot_be_revised() -> None:
    plan = define_plan()
    plan.collect_events()

    plan.revise({"periodicity": "annual"}, ACTOR)

    assert plan.collect_events() == []
    assert plan.periodicity == "monthly"


def test_a_plan_currency_cannot_change() -> None:
    plan = define_plan()
    with pytest.raises(RuleViolationError) as refused:
        plan.revise({"price": {"amount": 4990, "currency": "USD"}}, ACTOR)
    assert refused.value.field == "price"
    assert plan.price == {"amount": 4990, "currency": "BRL"}


def test_a_revised_plan_price_must_stay_positive() -> None:
    plan = define_plan()
    with pytest.raises(RuleViolationError):
        plan.revise({"price": {"amount": 0, "currency": "BRL"}}, ACTOR)


def test_an_offer_price_revision_is_recorded_only_when_changed() -> None:
    offer = make_offer()
    offer.collect_events()

    offer.revise({"price": {"amount": 2990, "currency": "BRL"}}, ACTOR)
    assert offer.collect_events() == []

    offer.revise({"price": {"amount": 1990, "currency": "BRL"}}, ACTOR)
    assert names(list(offer.collect_events())) == ["OfferRevised"]
    assert offer.price == {"amount": 1990, "currency": "BRL"}


def test_an_offer_currency_cannot_change() -> None:
    offer = make_offer()
    with pytest.raises(RuleViolationError):
        offer.revise({"price": {"amount": 2990, "currency": "EUR"}}, ACTOR)


def test_a_revised_price_in_fractional_minor_units_is_refused() -> None:
    plan = define_plan()
    with pytest.raises(RuleViolationError):
        plan.revise({"price": {"amount": 49.9, "currency": "BRL"}}, ACTOR)


def test_a_revised_retry_policy_must_stay_within_its_bounds() -> None:
    plan = define_plan()
    with pytest.raises(RuleViolationError):
        plan.revise({"retry_policy": {"max_retries": 50, "window_days": 15, "reset_billing_date": False}}, ACTOR)


def test_a_renewal_reminder_is_between_one_and_sixty_days_before() -> None:
    with pytest.raises(RuleViolationError):
        define_plan(renewal_reminder_days=0)
