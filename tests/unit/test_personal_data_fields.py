"""The personal fields the event store encrypts are the ones the public contract marks personal, and erasure
in the domain forgets exactly those while amounts and statuses stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_builders import ACTOR, JAN_31, NEW_CARD, charge_approved, start_subscription
from marshmallow import fields

from recur.contract.events import CONTRACT
from recur.contract.fields import is_personal
from recur.domain.errors import InvalidStateError
from recur.domain.personal_data import PERSONAL_FIELDS


def personal_in_contract() -> dict[str, set[tuple[str, str]]]:
    marked: dict[str, set[tuple[str, str]]] = {}
    for contract in CONTRACT:
        for name, field in contract.schema._declared_fields.items():
            if isinstance(field, fields.Nested):
                nested = field.nested if isinstance(field.nested, type) else type(field.schema)
                for inner, declared in nested._declared_fields.items():
                    if is_personal(declared):
                        marked.setdefault(contract.name, set()).add((name, inner))
    return marked


def test_the_fields_encrypted_are_the_fields_the_contract_marks_personal() -> None:
    assert personal_in_contract() == {name: set(paths) for name, paths in PERSONAL_FIELDS.items()}


def test_an_erased_subscriber_keeps_amounts_and_status_but_no_personal_data() -> None:
    subscription = start_subscription()
    charge_approved(subscription, JAN_31)
    paid, status = subscription.total_paid, subscription.status

    assert subscription.erase_subscriber(JAN_31 + timedelta(days=1), ACTOR)

    assert set(subscription.subscriber.values()) == {None}
    assert subscription.payment_method.get("brand") is None and subscription.payment_method.get("last4") is None
    assert (subscription.total_paid, subscription.status) == (paid, status)
    assert not subscription.erase_subscriber(JAN_31 + timedelta(days=2), ACTOR), "a second erasure changes nothing"


def test_an_erased_subscription_takes_no_new_card() -> None:
    subscription = start_subscription()
    subscription.erase_subscriber(JAN_31, ACTOR)
    with pytest.raises(InvalidStateError, match="erased"):
        subscription.change_payment_method(NEW_CARD, JAN_31 + timedelta(days=1), ACTOR)
