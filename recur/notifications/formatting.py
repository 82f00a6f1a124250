"""Figures as a subscriber reads them in their language: money, dates and periods through Babel's CLDR data.

Kept apart from the templates so that wording stays in the templates and numbers stay correct in one place:
an amount is integer minor units and becomes a Decimal only for display, and an instant is shown as its UTC
date, the same day the API reports it on, whatever the server's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from babel.dates import format_date, format_interval
from babel.numbers import format_currency, get_currency_precision

from recur.domain.money import Money

# recur's locale names (BCP 47, as in Content-Language) and Babel's names for the same locales.
BABEL_LOCALES = {"pt-BR": "pt_BR", "en": "en"}

# How the card brands recur stores (lowercase, see recur.gateways) are written; "unknown" is not shown.
CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "elo": "Elo",
    "hipercard": "Hipercard",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "unknown": "",
}


def babel_locale(locale: str) -> str:
    try:
        return BABEL_LOCALES[locale]
    except KeyError:
        raise ValueError(f"no such locale: {locale!r}; known: {', '.join(BABEL_LOCALES)}") from None


def money(value: Money, locale: str) -> str:
    """R$ 19,90 in pt-BR, R$19.90 in en: the minor units scaled by the currency's digits, exactly (Decimal)."""
    if not isinstance(value, Money):
        raise TypeError(f"expected Money, got {type(value).__name__}: an amount without its currency cannot be shown")
    major = Decimal(value.amount).scaleb(-get_currency_precision(value.currency))
    return format_currency(major, value.currency, locale=babel_locale(locale))


def calendar_day(value: date | datetime) -> date:
    """A date as it is; an instant as its UTC date. A naive datetime is refused: its day would be a guess."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"an instant must be timezone-aware: {value!r}")
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def long_date(value: date | datetime, locale: str) -> str:
    """5 de março de 2027 / March 5, 2027."""
    return format_date(calendar_day(value), format="long", locale=babel_locale(locale))


def period(start: date | datetime, end: date | datetime, locale: str) -> str:
    """An inclusive span of days the short way CLDR writes it (1 – 7 de mar. de 2027 / Mar 1 – 7, 2027)."""
    return format_interval(calendar_day(start), calendar_day(end), "yMMMd", locale=babel_locale(locale))


def card_brand(brand: str | None) -> str:
    """The brand's proper name; an unlisted brand as given, so a new one still shows."""
    if not brand:
        return ""
    return CARD_BRANDS.get(brand.lower(), brand)
