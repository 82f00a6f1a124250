"""Request fields that accept only what storage can hold, written once for every schema.

json.loads accepts "\\u0000" and lone surrogates such as "\\ud800"; PostgreSQL refuses both in text,
so an event carrying one is stored in the event store and then fails in every read model that
copies it. Text refuses them at the edge, where the caller can be told which field to fix.
Booleans and integers are strict for the same reason: "yes" or 1.0 is a mistake to report, not to guess.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from recur.notifications.messages import ascii_address

UNSTORABLE_TEXT = "must not contain NUL characters or unpaired surrogates"


def unstorable(text: str) -> bool:
    """True when PostgreSQL cannot store this text: a NUL, or a surrogate that is not valid UTF-8."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Text(fields.String):
    """A string PostgreSQL can store, at most `max_length` characters long.

    With `required_non_blank` the value is trimmed and must keep at least one character: a name of
    only spaces names nothing. The bound is declared as a Length validator so that the OpenAPI
    document publishes it (maxLength, minLength) from this same declaration.
    """

    default_error_messages = {"unstorable": UNSTORABLE_TEXT, "blank": "must not be blank"}

    def __init__(self, *, max_length: int, required_non_blank: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.required_non_blank = required_non_blank
        self.validators.insert(0, validate.Length(min=1 if required_non_blank else None, max=max_length))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if unstorable(text):
            raise self.make_error("unstorable")
        if self.required_non_blank:
            text = text.strip()
            if not text:
                raise self.make_error("blank")
        return text


class EmailAddress(Text, fields.Email):
    """An e-mail address (marshmallow's validator) that storage and mail servers can hold: recur writes to these
    addresses over plain SMTP, which carries no character beyond ASCII before the @ (that needs SMTPUTF8), so
    such an address is refused here rather than accepted and never written to (the domain may be international:
    it is sent in its IDNA form)."""

    default_error_messages = {"undeliverable": "must be an address plain SMTP can carry: {reason}"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        address = super()._deserialize(value, attr, data, **kwargs)
        try:
            ascii_address(address)
        except ValueError as error:
            raise self.make_error("undeliverable", reason=str(error)) from None
        return address


class StrictBoolean(fields.Boolean):
    """JSON true or false only: marshmallow's Boolean also takes "yes", 1 and 1.0 (1 == True in a set)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value

