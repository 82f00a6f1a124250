"""The building blocks of every answer's schema: fields that read the objects as they are, money, pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, missing, utils

STATUSES = ["pending", "trialing", "active", "past_due", "inactive", "cancelled"]


# ---------------------------------------------------------------- fields that read the objects as they are
class Instant(fields.DateTime):
    """ISO 8601 with offset; a value some query already wrote as text is passed on."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class Day(fields.Date):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, datetime):
            value = value.date()
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kwargs)


class Composed(fields.Nested):
    """A nested object composed from the whole object being dumped (documented as the nested schema)."""

    def __init__(self, nested: type[Schema], compose: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self.compose = compose

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = missing) -> Any:
        return self.compose(obj)


def described(description: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The field's keyword arguments with the description folded into its metadata (where apispec reads it)."""
    metadata = {**kwargs.pop("metadata", {}), **({"description": description} if description else {})}
    return {**kwargs, "metadata": metadata}


def text(description: str = "", **kwargs: Any) -> fields.String:
    return fields.String(**described(description, kwargs))


def uuid(description: str = "", **kwargs: Any) -> fields.UUID:
    return fields.UUID(**described(description, kwargs))


def instant(description: str = "", **kwargs: Any) -> Instant:
    return Instant(**described(description, kwargs))


def day(description: str = "", **kwargs: Any) -> Day:
    return Day(**described(description, kwargs))


def nested(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    return fields.Nested(schema, **kwargs)


def version() -> fields.Integer:
    return fields.Integer(metadata={"description": "the aggregate's version: grows with every change; the ETag is this, quoted"})


def representation(cls: type[Schema]) -> type[Schema]:
    for declared in cls._declared_fields.values():
        declared.required = not declared.metadata.get("optional", False)
    return cls


# ---------------------------------------------------------------- money and catalog
@representation
class MoneyView(Schema):
    amount = fields.Integer(metadata={"description": "integer minor units (centavos for BRL)"})
    currency = text("ISO 4217 code, e.g. BRL")


def money_of(amount: str, currency: str, **kwargs: Any) -> Composed:
    """Money from an integer amount and the currency found beside it (dotted paths into the object)."""

    def compose(obj: Any) -> dict[str, Any] | None:
        value = utils.get_value(obj, amount)
        return None if value is None or value is missing else {"amount": value, "currency": utils.get_value(obj, currency)}

    return Composed(MoneyView, compose, **kwargs)


def page_of(item: type[Schema], name: str, **extra: fields.Field) -> type[Schema]:
    """Every list answers `{items, next_cursor}`; pass next_cursor back as `cursor` for the next page."""
    shape: dict[str, fields.Field] = {
        "items": fields.List(fields.Nested(item)),
        "next_cursor": text("null on the last page", allow_none=True),
        **extra,
    }
    return representation(Schema.from_dict(shape, name=name))


def columns(schema: type[Schema], prefix: str = "") -> list[str]:
    """A schema's fields as the dotted columns of a CSV or XLSX file, in declaration order."""
    names: list[str] = []
    for name, declared in schema._declared_fields.items():
        key = declared.data_key or name
        if isinstance(declared, fields.Nested) and isinstance(declared.nested, type):
            names.extend(columns(declared.nested, f"{prefix}{key}."))
        else:
            names.append(prefix + key)
    return names
