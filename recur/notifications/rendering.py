"""The Jinja2 environments the e-mail templates render in: one per locale, strict and escaping only HTML.

A missing value in a template is a bug to find in a test, not a blank in a subscriber's inbox, hence
StrictUndefined. Text parts and subjects are not HTML, so only `.html` templates are autoescaped. Each locale
has its own environment so that the formatting filters know the language without the templates passing it
around; a locale's folder is searched first, then `common/` for what every language shares.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial, wraps
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape

from recur.notifications import formatting, phrases

PACKAGE = "recur.notifications"
COMMON = "templates/common"


def folder(locale: str) -> str:
    """Where a locale's templates live, inside the package."""
    return f"templates/{locale}"


@cache
def environment(locale: str) -> Environment:
    formatting.babel_locale(locale)  # refuses an unknown locale before a loader looks for its folder
    env = Environment(
        loader=ChoiceLoader([PackageLoader(PACKAGE, folder(locale)), PackageLoader(PACKAGE, COMMON)]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        money=strict(partial(formatting.money, locale=locale)),
        date=strict(partial(formatting.long_date, locale=locale)),
        period=strict(partial(formatting.period, locale=locale)),
        payment_method=strict(partial(phrases.payment_method, locale=locale)),
        decline_reason=strict(partial(phrases.decline_reason, locale=locale)),
        report_name=strict(partial(phrases.report_name, locale=locale)),
        frequency=strict(partial(phrases.frequency, locale=locale)),
    )
    env.globals["subscription_name"] = strict(phrases.subscription_name)
    return env


def strict(function: Callable[..., str]) -> Callable[..., str]:
    """A filter or function handed a missing value fails as a missing value (UndefinedError, naming it), the
    same as when a template prints it, rather than with whatever a Python function makes of the placeholder."""

    @wraps(function)
    def checked(*args: Any) -> str:
        for value in args:
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
        return function(*args)

    return checked


def render(locale: str, template: str, context: dict[str, Any]) -> str:
    return environment(locale).get_template(template).render(context)
