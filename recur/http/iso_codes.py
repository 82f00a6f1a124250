"""ISO 4217 currencies and ISO 3166 countries, from pycountry's maintained tables.

A three-letter pattern let `XYZ` and `AAA` through: a price in a currency that does not exist
cannot be charged, shown or exported meaningfully. The tables are read on first use, not at import.
"""

from __future__ import annotations

from functools import cache

from marshmallow import ValidationError

# ISO 4217 codes that name no money: "testing" and "no currency involved". A price cannot be in them.
NOT_MONEY = frozenset({"XTS", "XXX"})


@cache
def currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies) - NOT_MONEY


@cache
def countries() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


def check_currency(code: str) -> None:
    """A marshmallow validator: an active ISO 4217 currency code, upper case."""
    if code not in currencies():
        raise ValidationError("must be an ISO 4217 currency code such as BRL")


def check_country(code: str) -> None:
    """A marshmallow validator: an ISO 3166-1 alpha-2 country code, upper case."""
    if code not in countries():
        raise ValidationError("must be an ISO 3166 country code such as BR")
