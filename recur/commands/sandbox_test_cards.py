"""The sandbox's test cards: which numbers charge how, what the sandbox accepts as a card number, and the
port of what only a sandbox gateway offers (making tokens from test numbers, queueing outcomes).

They are the sandbox API's published contract (its schemas validate against them and its documentation lists
them), so they live here, beside the payment gateway port, rather than inside the adapter: the HTTP layer
reaches the sandbox gateway through `SandboxCards` and never imports an adapter.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Protocol, runtime_checkable

from recur.commands.gateway import CardToken

TEST_CARDS: dict[str, str] = {
    number: outcome
    for number, outcome in json.loads(resources.files("recur.commands").joinpath("sandbox_test_cards.json").read_text()).items()
    if not number.startswith("_")
}
OUTCOMES = frozenset(
    {
        "approved",
        "card_declined",
        "insufficient_funds",
        "stolen_card",
        "lost_card",
        "expired_card",
        "invalid_account",
        "processing_error",
        "do_not_honor",
    }
)


class InvalidCardNumberError(ValueError):
    pass


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("636368", "438935", "504175", "451416", "636297", "5067", "4576", "4011")):
        return "elo"
    return "unknown"


@runtime_checkable
class SandboxCards(Protocol):
    """What a sandbox gateway offers besides the payment gateway port: the sandbox routes answer 404 with any
    other gateway."""

    def tokenize(self, number: str, exp_month: int, exp_year: int) -> CardToken:
        """A token for a test card (raises InvalidCardNumberError); the number is never stored."""
        ...

    def describe_token(self, token: str) -> CardToken:
        """The card a token names (raises UnknownCardTokenError)."""
        ...

    def queue_outcomes(self, token: str, outcomes: list[str]) -> None:
        """The results of the card's next charges, in order (raises UnknownCardTokenError)."""
        ...
