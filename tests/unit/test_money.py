"""Money: integer minor units with an ISO 4217 currency, split into installments."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recur.domain.errors import RuleViolationError
from recur.domain.money import MAX_MINOR_UNITS, Money


def test_an_amount_is_a_whole_number_of_minor_units() -> None:
    assert Money(1990, "BRL").amount == 1990


@pytest.mark.parametrize("amount", [19.9, 1990.0, True, "1990"])
def test_an_amount_that_is_not_an_int_is_refused(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "BRL")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["brl", "BR", "BRLX", "B1L", ""])
def test_a_currency_must_be_three_upper_case_letters(currency: str) -> None:
    with pytest.raises(ValueError):
        Money(100, currency)


def test_money_cannot_be_changed_after_it_is_made() -> None:
    money = Money(100, "BRL")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 200  # type: ignore[misc]


def test_money_is_compared_by_amount_and_currency() -> None:
    assert Money(100, "BRL") == Money(100, "BRL")
    assert Money(100, "BRL") != Money(100, "USD")


def test_a_split_puts_the_remainder_on_the_first_installment() -> None:
    assert Money(100003, "BRL").split(5) == [
        Money(20003, "BRL"),
        Money(20000, "BRL"),
        Money(20000, "BRL"),
        Money(20000, "BRL"),
        Money(20000, "BRL"),
    ]


def test_a_split_in_one_part_is_the_whole_amount() -> None:
    assert Money(1990, "BRL").split(1) == [Money(1990, "BRL")]


@pytest.mark.parametrize("parts", [0, -1])
def test_a_split_needs_at_least_one_part(parts: int) -> None:
    with pytest.raises(ValueError):
        Money(1000, "BRL").split(parts)


@given(amount=st.integers(min_value=1, max_value=10**9), parts=st.integers(min_value=1, max_value=12))
def test_installments_add_up_to_the_price_and_differ_only_on_the_first(amount: int, parts: int) -> None:
    installments = Money(amount, "BRL").split(parts)

    assert len(installments) == parts
    assert sum(m.amount for m in installments) == amount
    assert {m.currency for m in installments} == {"BRL"}
    assert len({m.amount for m in installments[1:]}) <= 1
    assert 0 <= installments[0].amount - installments[-1].amount < parts


def test_money_round_trips_through_its_dict_form() -> None:
    money = Money(1990, "BRL")
    assert money.as_dict() == {"amount": 1990, "currency": "BRL"}
    assert Money.from_dict(money.as_dict()) == money


def test_a_fractional_amount_read_from_a_dict_is_refused_not_truncated() -> None:
    with pytest.raises(RuleViolationError):
        Money.from_dict({"amount": 19.99, "currency": "BRL"})  # type: ignore[dict-item]


def test_an_amount_beyond_what_read_models_and_gateways_hold_cannot_be_made() -> None:
    assert Money(MAX_MINOR_UNITS, "BRL").amount == MAX_MINOR_UNITS
    with pytest.raises(ValueError):
        Money(MAX_MINOR_UNITS + 1, "BRL")
    with pytest.raises(ValueError):
        Money(-(10**19), "BRL")


def test_a_price_beyond_the_maximum_read_from_a_dict_is_a_rule_violation_on_the_price() -> None:
    with pytest.raises(RuleViolationError) as refused:
        Money.from_dict({"amount": 10**19, "currency": "BRL"})
    assert refused.value.field == "price"
