"""The request fields and checks every schema shares: what storage cannot hold is refused at the edge."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from recur.domain.money import MAX_MINOR_UNITS
from recur.http.errors import ApiError
from recur.http.fields import UNSTORABLE_TEXT, EmailAddress, StrictBoolean, Text, unstorable
from recur.http.iso_codes import NOT_MONEY
from recur.http.limits import EARLIEST_INSTANT, LATEST_INSTANT, MAX_NAME_LENGTH, SANDBOX_CLOCK_HORIZON
from recur.http.pagination import decode_cursor, encode_cursor
from recur.http.request_ids import request_id_from
from recur.http.sandbox import clock_horizon
from recur.http.schemas import MoneySchema, RetryPolicySchema
from recur.http.subscriptions import SubscriberSchema


class Named(Schema):
    name = Text(required=True, max_length=MAX_NAME_LENGTH, required_non_blank=True)
    note = Text(max_length=10)
    email = EmailAddress(max_length=40)
    flag = StrictBoolean()


def errors_of(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as refused:
        schema.load(data)
    messages: dict[str, Any] = refused.value.messages  # type: ignore[assignment]
    return messages


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate", "\udfff"])
def test_text_postgresql_cannot_store_is_refused_naming_the_field(text: str) -> None:
    assert unstorable(text)
    assert errors_of(Named(), {"name": text}) == {"name": [UNSTORABLE_TEXT]}
    assert errors_of(Named(), {"name": "Ana", "note": text}) == {"note": [UNSTORABLE_TEXT]}


def test_text_in_any_script_with_emoji_is_kept_as_sent() -> None:
    name = "Zoë 山田 \U0001f600"  # the emoji is a surrogate pair in JSON: a whole character once decoded
    assert not unstorable(name)
    assert Named().load({"name": name})["name"] == name


def test_a_required_name_is_trimmed_and_a_name_of_only_spaces_names_nothing() -> None:
    assert Named().load({"name": "  Ana Courses \n"})["name"] == "Ana Courses"
    assert errors_of(Named(), {"name": "   "}) == {"name": ["must not be blank"]}
    assert "name" in errors_of(Named(), {"name": ""})


def test_text_is_bounded_in_length() -> None:
    assert Named().load({"name": "x" * MAX_NAME_LENGTH})["name"] == "x" * MAX_NAME_LENGTH
    assert "name" in errors_of(Named(), {"name": "x" * (MAX_NAME_LENGTH + 1)})
    assert "note" in errors_of(Named(), {"name": "Ana", "note": "x" * 11})


def test_an_email_address_is_checked_for_shape_storage_and_length() -> None:
    assert Named().load({"name": "Ana", "email": "ana@example.com"})["email"] == "ana@example.com"
    for bad in ["ana\x00@example.com", "not an address", "a" * 30 + "@example.com"]:
        assert "email" in errors_of(Named(), {"name": "Ana", "email": bad})


@pytest.mark.parametrize("value", ["yes", "true", 1, 1.0, 0, None])
def test_a_boolean_is_json_true_or_false_only(value: object) -> None:
    assert "flag" in errors_of(Named(), {"name": "Ana", "flag": value})


def test_reset_billing_date_takes_true_and_false() -> None:
    assert RetryPolicySchema().load({"reset_billing_date": True}) == {"reset_billing_date": True}
    assert RetryPolicySchema().load({"reset_billing_date": False}) == {"reset_billing_date": False}
    assert "reset_billing_date" in errors_of(RetryPolicySchema(), {"reset_billing_date": "yes"})


@pytest.mark.parametrize("amount", [0, -1, MAX_MINOR_UNITS + 1, 10**19, 1.5, True, "100"])
def test_an_amount_outside_one_to_the_storable_maximum_is_refused(amount: object) -> None:
    assert "amount" in errors_of(MoneySchema(), {"amount": amount, "currency": "BRL"})


def test_the_largest_amount_is_accepted() -> None:
    assert MoneySchema().load({"amount": MAX_MINOR_UNITS, "currency": "BRL"})["amount"] == MAX_MINOR_UNITS


@pytest.mark.parametrize("currency", ["XYZ", "AAA", "brl", "BRLX", "R$", "BR\x00", *sorted(NOT_MONEY)])
def test_a_currency_must_be_a_real_iso_4217_code(currency: str) -> None:
    assert "currency" in errors_of(MoneySchema(), {"amount": 100, "currency": currency})


@pytest.mark.parametrize("currency", ["BRL", "USD", "EUR", "JPY"])
def test_real_currencies_are_accepted(currency: str) -> None:
    assert MoneySchema().load({"amount": 100, "currency": currency})["currency"] == currency


def test_a_country_must_be_a_real_iso_3166_code() -> None:
    subscriber = {"name": "Bia", "email": "bia@example.com"}
    assert SubscriberSchema().load({**subscriber, "country": "BR"})["country"] == "BR"
    assert SubscriberSchema().load(subscriber)["country"] is None
    for country in ["XX", "br", "BRA", "B\x00"]:
        assert "country" in errors_of(SubscriberSchema(), {**subscriber, "country": country})


@pytest.mark.parametrize("header", [None, "", "x" * 129, "has space", "new\nline", "é-accent", "a;b"])
def test_an_unsafe_or_missing_request_id_is_replaced_by_a_fresh_one(header: str | None) -> None:
    fresh = request_id_from(header)
    assert fresh != header and len(fresh) == 32 and fresh.isalnum()


def test_a_short_plain_request_id_is_kept() -> None:
    kept = "req-2026.01:ab_C" + "x" * 112
    assert request_id_from(kept) == kept


def cursor_of(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def test_a_cursor_decodes_to_what_was_encoded() -> None:
    moment = datetime(2026, 3, 1, 12, tzinfo=UTC)
    row_id = "6f1f0c3e-4f6e-4a52-9d5b-0d7c0a1e2b3c"
    assert decode_cursor(encode_cursor(moment, row_id)) == (moment.isoformat(), row_id)
    assert decode_cursor(encode_cursor(moment, f"{row_id}:c1:i1:a1"), id_is_uuid=False) == (moment.isoformat(), f"{row_id}:c1:i1:a1")


@pytest.mark.parametrize(("parts", "id_is_uuid"), [
    (["2026-03-01T12:00:00-23:59", "6f1f0c3e-4f6e-4a52-9d5b-0d7c0a1e2b3c"], True),  # PostgreSQL refuses the offset
    (["2026-03-01T12:00:00", "6f1f0c3e-4f6e-4a52-9d5b-0d7c0a1e2b3c"], True),  # no offset at all
    (["2026-03-01T12:00:00+00:00", "not-a-uuid"], True),
    (["2026-03-01T12:00:00+00:00", "nul\x00id"], False),
    (["2026-03-01T12:00:00+00:00", "x" * 1000], False),
    (["2026-03-01T12:00:00+00:00", 7], True),
    ({"a": 1, "b": 2}, True),
    ([[[[]]]], True),
])
def test_a_cursor_the_api_did_not_write_is_a_422_naming_cursor(parts: object, id_is_uuid: bool) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor_of(parts), id_is_uuid=id_is_uuid)
    assert refused.value.status == 422 and refused.value.errors == {"cursor": ["invalid cursor"]}


@pytest.mark.parametrize("cursor", ["garbage!", base64.urlsafe_b64encode(b"[" * 100_000).decode()[:500], "A" * 10_000])
def test_a_cursor_that_is_not_even_json_is_a_422_naming_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor)
    assert refused.value.errors == {"cursor": ["invalid cursor"]}


def test_the_sandbox_clock_may_go_a_decade_ahead_but_never_past_the_last_accepted_instant() -> None:
    today = datetime(2026, 5, 1, tzinfo=UTC)
    assert clock_horizon(today) == today + SANDBOX_CLOCK_HORIZON
    assert clock_horizon(datetime(2095, 1, 1, tzinfo=UTC)) == LATEST_INSTANT
    assert EARLIEST_INSTANT < today < LATEST_INSTANT
