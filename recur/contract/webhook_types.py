"""The `type` of each webhook delivery: `subscription.` + the event's name in snake_case (`subscription.charge_failed`).

Generated from the contract's declarations rather than listed by hand, so a subscription event added to the contract is
a webhook type at once, and an endpoint's filter is checked against the events that really exist.
"""

from __future__ import annotations

import re
from functools import cache

from recur.contract.events import CONTRACT
from recur.contract.topics import SUBSCRIPTIONS

PREFIX = "subscription."
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def webhook_type(event_name: str) -> str:
    """`ChargeFailed` -> `subscription.charge_failed`."""
    return PREFIX + _WORD_START.sub("_", event_name).lower()


@cache
def webhook_event_types() -> tuple[str, ...]:
    """Every type a webhook endpoint may receive, in the contract's order: one per public subscription event."""
    return tuple(webhook_type(contract.name) for contract in CONTRACT.on_topic(SUBSCRIPTIONS))
