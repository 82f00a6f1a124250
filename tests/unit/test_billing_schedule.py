"""The billing schedule: which installment is next, when it falls due, and where cycles start."""

from __future__ import annotations

from datetime import UTC, datetime

from domain_builders import plan_terms

from recur.domain.money import Money
from recur.domain.schedule import BillingAnchor, NextInstallment, anchor_on_billing_day, boleto_expiry, next_installment
from recur.domain.terms import PlanTerms


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, tzinfo=UTC)


QUARTERLY_IN_3 = plan_terms(price=3001, periodicity="quarterly", installments=3)


def next_quarterly(cycle: int, paid_in_cycle: int, anchor: BillingAnchor, renewal_terms: PlanTerms = QUARTERLY_IN_3) -> NextInstallment:
    return next_installment(cycle=cycle, paid_in_cycle=paid_in_cycle, terms=QUARTERLY_IN_3, renewal_terms=renewal_terms, anchor=anchor)


def test_the_first_charge_is_due_on_the_anchor_itself() -> None:
    due = next_quarterly(0, 0, BillingAnchor(at(2024, 1, 31)))
    assert (due.cycle, due.installment, due.amount, due.due_at) == (1, 1, Money(1001, "BRL"), at(2024, 1, 31))


def test_the_installments_of_a_cycle_fall_due_a_calendar_month_apart_from_its_start() -> None:
    anchor = BillingAnchor(at(2024, 1, 31))
    due = next_quarterly(1, 1, anchor)
    assert (due.cycle, due.installment, due.amount, due.due_at) == (1, 2, Money(1000, "BRL"), at(2024, 2, 29))


def test_once_a_cycle_is_paid_the_next_is_due_when_it_ends_priced_on_the_renewal_terms() -> None:
    monthly = plan_terms(plan_id="plan-monthly", price=1500)
    anchor = BillingAnchor(at(2024, 1, 31), cycle_offset=3)  # the second quarter started on Apr 30
    due = next_quarterly(2, 3, anchor, renewal_terms=monthly)
    assert (due.cycle, due.installment, due.amount, due.due_at) == (3, 1, Money(1500, "BRL"), at(2024, 7, 31))
    assert due.terms == monthly
    assert anchor.cycle_end(QUARTERLY_IN_3.period_months) == anchor.next_cycle(3).cycle_start == at(2024, 7, 31)


def test_a_billing_restart_counts_the_cycle_back_from_the_installment_paid_that_day() -> None:
    restarted = BillingAnchor.restarted_on(at(2024, 5, 10), installment=3)
    assert restarted.cycle_start == at(2024, 3, 10)
    assert restarted.months_into_cycle(3) == at(2024, 6, 10)


def test_a_new_billing_day_keeps_the_next_installment_as_many_months_into_its_cycle() -> None:
    anchor = BillingAnchor(at(2024, 1, 31))
    due = next_quarterly(1, 1, anchor)
    moved = anchor_on_billing_day(due, day=10, not_before=at(2024, 2, 5), period_months=3)
    assert moved.date == at(2024, 2, 10)
    assert (moved.cycle_start, moved.cycle_end(3)) == (at(2024, 1, 10), at(2024, 4, 10))


def test_a_boleto_can_be_paid_for_three_days_after_it_is_issued() -> None:
    assert boleto_expiry(at(2024, 1, 31)) == at(2024, 2, 3)
