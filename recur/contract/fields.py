"""The kinds of field a public event carries, each declaring its type, bounds and description once.

Every field of an event's data is `required`: the relay always sends it, `null` where the field is
`nullable`. The AsyncAPI document is generated from these declarations, so it says exactly what the
encoder guarantees. `since=N` marks a field added in version N of its event's schema.

Public schemas ignore fields they do not know when loading (`unknown = EXCLUDE`), as the contract asks
of every consumer: within a topic's major version, fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CURRENCY_PATTERN = "^[A-Z]{3}$"


class PublicSchema(Schema):
    """A part of the public contract. Its docstring is its description in the generated documents."""

    class Meta:
        unknown = EXCLUDE


def since_of(field: fields.Field) -> int:
    """The schema version that added the field (1: there from the start)."""
    return int(field.metadata.get("since", 1))


def _metadata(description: str, since: int | None, **extra: Any) -> dict[str, Any]:
    if since is not None:
        description = f"{description} Added in version {since}."
    return {"description": description, **({"since": since} if since is not None else {}), **extra}


def _args(description: str, nullable: bool, since: int | None, required: bool, **extra: Any) -> dict[str, Any]:
    return {"required": required, "allow_none": nullable, "metadata": _metadata(description, since, **extra)}


def is_personal(field: fields.Field) -> bool:
    """Personal data: encrypted per subscription in the event store, null once the subscriber is erased."""
    return bool(field.metadata.get("personal"))


def text(description: str, *, nullable: bool = False, since: int | None = None, required: bool = True,
         pattern: str | None = None, fmt: str | None = None, personal: bool = False) -> fields.String:
    """`personal=True` marks personal data (it is then nullable: null once the subscriber is erased)."""
    extra: dict[str, Any] = {"format": fmt} if fmt else {}
    if personal:
        extra["personal"] = True
        nullable = True
        description = f"{description} Personal data: null once the subscriber is erased (SubscriberErased)."
    return fields.String(validate=validate.Regexp(pattern) if pattern else None, **_args(description, nullable, since, required, **extra))


def choice(values: Iterable[str], description: str, *, nullable: bool = False, since: int | None = None) -> fields.String:
    return fields.String(validate=validate.OneOf(list(values)), **_args(description, nullable, since, True))


def integer(description: str, *, minimum: int | None = None, maximum: int | None = None, nullable: bool = False,
            since: int | None = None, required: bool = True) -> fields.Integer:
    bounds = validate.Range(min=minimum, max=maximum) if minimum is not None or maximum is not None else None
    return fields.Integer(strict=True, validate=bounds, **_args(description, nullable, since, required))


def texts(description: str, *, since: int | None = None, fmt: str | None = None) -> fields.List:
    """A list of strings (each of format `fmt` when given)."""
    item = fields.String(metadata={"format": fmt} if fmt else {})
    return fields.List(item, **_args(description, False, since, True))


def boolean(description: str, *, nullable: bool = False, since: int | None = None) -> fields.Boolean:
    return fields.Boolean(**_args(description, nullable, since, True))


def instant(description: str, *, nullable: bool = False, since: int | None = None) -> fields.DateTime:
    """An ISO 8601 instant with its UTC offset."""
    return fields.DateTime(format="iso", **_args(description, nullable, since, True))


def nested(schema: type[Schema], description: str, *, nullable: bool = False, since: int | None = None,
           required: bool = True) -> fields.Nested:
    return fields.Nested(schema, **_args(description, nullable, since, required))


def currency(description: str = "ISO 4217 code of `amount`.") -> fields.String:
    return text(description, pattern=CURRENCY_PATTERN)


def minor_units(description: str = "Minor units (centavos for BRL); never a float.") -> fields.Integer:
    return integer(description)
