"""The public contract of each event: which internal event class it publishes, its data schema and version.

A data schema is declared once, next to its siblings, with

    @CONTRACT.declare(Subscription.ChargeFailed, version=1, status_after="past_due")
    class ChargeFailedData(PublicSchema):
        \"\"\"One refused charge, retries included.\"\"\"
        reason = text("The gateway's decline code.")

and the encoder, the AsyncAPI document, docs/EVENTS.md and the tests all read it from here. Fields of the
internal event class that the public message must not carry are listed in `private` with the reason;
the envelope fields (`ENVELOPE_FIELDS`) are carried outside `data`. Any other internal field must be
declared in the schema: tests/unit/test_public_event_contract.py fails otherwise.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from recur.contract.dumping import Dump, dumper
from recur.contract.fields import since_of
from recur.contract.topics import ALL, TOPIC_OF_AGGREGATE

# Fields every internal event has that the message carries in its envelope (or, for the library's class
# reference, not at all).
ENVELOPE_FIELDS = {
    "originator_id": "the envelope's `aggregate_id` (and the message key)",
    "originator_version": "the envelope's `version`",
    "timestamp": "the envelope's `recorded_at`",
    "actor": "the envelope's `actor`",
    "originator_topic": "the event-sourcing library's class reference: internal, never published",
}


class NotInContractError(LookupError):
    """An internal event class without a public schema: it cannot be published until it gets one."""


class ContractViolationError(ValueError):
    """An internal event no longer provides a field its public schema promises."""


@dataclass(frozen=True)
class EventContract:
    event_class: type
    schema: type[Schema]
    version: int
    status_after: str | None = None
    private: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.event_class.__name__

    @property
    def aggregate(self) -> str:
        """'Subscription' for Subscription.ChargeFailed."""
        return self.event_class.__qualname__.split(".")[0]

    @property
    def type(self) -> str:
        """The CloudEvents type: recur.<aggregate>.<Name>."""
        return f"recur.{self.aggregate.lower()}.{self.name}"

    @property
    def topic(self) -> str:
        return TOPIC_OF_AGGREGATE[self.aggregate]

    @property
    def meaning(self) -> str:
        return inspect.cleandoc(self.schema.__doc__ or "")

    def field_names(self) -> list[str]:
        return list(self.schema._declared_fields)

    def drift(self) -> list[str]:
        """How the internal event class and its public schema disagree (nothing, when the contract holds): an
        internal field neither published nor private would be silently dropped; a published field the class
        no longer has would break every message; a private field the class no longer has is a stale excuse."""
        internal = [f.name for f in dataclasses.fields(self.event_class) if f.name not in ENVELOPE_FIELDS]
        published = self.field_names()
        problems = [f"{self.name}.{name} is neither in the public schema {self.schema.__name__} nor private"
                    for name in internal if name not in published and name not in self.private]
        problems += [f"{self.name} has no field {name}, which {self.schema.__name__} publishes"
                     for name in published if name not in internal]
        problems += [f"{self.name} has no field {name}, which is declared private" for name in self.private if name not in internal]
        problems += [f"{self.name}.{name} is both published and private" for name in published if name in self.private]
        return problems

    def dump(self, domain_event: Any) -> dict[str, Any]:
        """The event's public data: only the declared fields, converted by their declarations."""
        data = _dumper_of(self.schema)(domain_event)
        if len(data) != len(self.schema._declared_fields):
            missing = [name for name in self.schema._declared_fields if name not in data]
            raise ContractViolationError(f"{self.type} (schema version {self.version}) has no {', '.join(missing)}")
        return data


_dumpers: dict[type[Schema], Dump] = {}


def _dumper_of(schema: type[Schema]) -> Dump:
    if schema not in _dumpers:
        _dumpers[schema] = dumper(schema())
    return _dumpers[schema]


class Contract:
    """Every public event, in declaration order."""

    def __init__(self) -> None:
        self._by_class: dict[type, EventContract] = {}

    def declare(
        self, event_class: type, *, version: int, status_after: str | None = None, private: Mapping[str, str] | None = None
    ) -> Callable[[type[Schema]], type[Schema]]:
        def register(schema: type[Schema]) -> type[Schema]:
            if not schema.__doc__:
                raise TypeError(f"{schema.__name__} needs a docstring: it is the event's meaning in the documents")
            optional = [name for name, f in schema._declared_fields.items() if not f.required]
            if optional:
                raise TypeError(f"{schema.__name__}: every field of an event's data is sent (null when nullable): {optional}")
            newest = max((since_of(f) for f in schema._declared_fields.values()), default=1)
            if newest != version:
                raise TypeError(f"{schema.__name__} is version {version} but its newest field is from version {newest}")
            self._by_class[event_class] = EventContract(event_class, schema, version, status_after, dict(private or {}))
            return schema

        return register

    def of(self, domain_event: Any) -> EventContract:
        return self.of_class(type(domain_event))

    def of_class(self, event_class: type) -> EventContract:
        try:
            return self._by_class[event_class]
        except KeyError:
            raise NotInContractError(f"{event_class.__qualname__} has no public schema in recur.contract") from None

    def __iter__(self) -> Iterator[EventContract]:
        """Topic by topic (subscriptions first), in declaration order within a topic."""
        return iter(sorted(self._by_class.values(), key=lambda c: ALL.index(c.topic) if c.topic in ALL else len(ALL)))

    def on_topic(self, topic: str) -> list[EventContract]:
        return [c for c in self if c.topic == topic]


CONTRACT = Contract()
