"""A message is read as a recur event only if the version guard and positions can store its envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from recur.consumers.envelope import MalformedEventError, read_event

GOOD: dict[str, Any] = {
    "type": "recur.product.ProductCreated",
    "aggregate_id": "4f2ad909-ec5b-4103-bff7-4ef6a2a72013",
    "version": 1,
    "notification_id": 42,
    "occurred_at": "2026-01-01T00:00:00+00:00",
    "data": {"name": "nul\u0000byte"},
}


def encoded(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_an_event_as_the_relay_publishes_it_is_read_whatever_its_data_holds() -> None:
    assert read_event(encoded()) == GOOD


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        encoded(version="1"),
        encoded(version=2**31),
        encoded(version=True),
        encoded(notification_id=0),
        encoded(aggregate_id="not-a-uuid"),
        encoded(aggregate_id=None),
        encoded(occurred_at="yesterday"),
        encoded(type=None),
        encoded(data="text"),
    ],
)
def test_what_is_not_a_recur_event_is_refused_before_it_reaches_a_read_model(value: bytes) -> None:
    with pytest.raises(MalformedEventError):
        read_event(value)
