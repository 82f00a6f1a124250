"""Where a subscription's events keep personal data: the one list the event store encrypts, erasure nulls, and the
public contract marks as personal (a unit test holds the contract to it).

Personal data lives only in these dedicated fields, never inside free text, so that destroying one subscription's
data key erases that person from the whole history while amounts, dates and statuses stay.
"""

from __future__ import annotations

from typing import Any

# A path is (field of the event, key inside that field's dict). Absent keys (a boleto has no brand) stay absent.
Path = tuple[str, str]

SUBSCRIBER: tuple[Path, ...] = (("subscriber", "name"), ("subscriber", "email"), ("subscriber", "country"))
CARD: tuple[Path, ...] = (("payment_method", "brand"), ("payment_method", "last4"))

PERSONAL_FIELDS: dict[str, tuple[Path, ...]] = {
    "SubscriptionStarted": SUBSCRIBER + CARD,
    "PaymentMethodChanged": CARD,
}


def personal_paths(event_name: str) -> tuple[Path, ...]:
    """The personal fields of an event class (by its name); empty for events that carry none."""
    return PERSONAL_FIELDS.get(event_name, ())


def present_values(state: dict[str, Any], paths: tuple[Path, ...]) -> dict[str, Any]:
    """`{"subscriber.name": ..., ...}` for each path whose key is present in the event's state."""
    found = {}
    for outer, inner in paths:
        container = state.get(outer)
        if isinstance(container, dict) and inner in container:
            found[f"{outer}.{inner}"] = container[inner]
    return found


def with_values(state: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the state with each `outer.inner` value set (the inner dicts copied, never shared)."""
    copied = dict(state)
    for dotted, value in values.items():
        outer, inner = dotted.split(".", 1)
        copied[outer] = {**copied[outer], inner: value}
    return copied
