"""The public event contract: every event the domain records has a versioned public schema, the relay's
messages are what the generated AsyncAPI document says, and the internal event classes cannot change the
contract without a test failing."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from asyncapi_validation import MessageChecker
from event_corpus import as_version_1, corpus
from eventsourcing.domain import Aggregate
from jsonschema import Draft7Validator

import recur.domain
from recur.contract import asyncapi, documents
from recur.contract.encoding import EventEncoder, producer_lookup
from recur.contract.events import CONTRACT, ContractViolationError, EventContract
from recur.contract.fields import PublicSchema, text
from recur.contract.registry import Contract
from recur.domain.subscription import Subscription

ROOT = Path(__file__).resolve().parents[2]


def recorded_event_classes() -> set[type]:
    """Every event class an aggregate of recur.domain can record."""
    found: set[type] = set()
    for module_info in pkgutil.iter_modules(recur.domain.__path__):
        module = importlib.import_module(f"recur.domain.{module_info.name}")
        for aggregate in vars(module).values():
            if not (isinstance(aggregate, type) and issubclass(aggregate, Aggregate) and aggregate.__module__ == module.__name__):
                continue
            events = {e for e in vars(aggregate).values() if isinstance(e, type) and issubclass(e, Aggregate.Event)}
            named_creation = any(issubclass(e, Aggregate.Created) and e.__name__ != "Created" for e in events)
            found |= {e for e in events if e.__name__ != "Event" and not (e.__name__ == "Created" and named_creation)}
    return found


def test_every_event_the_domain_records_has_a_public_schema_and_nothing_else_does() -> None:
    declared = {c.event_class for c in CONTRACT}

    assert {e.__qualname__ for e in recorded_event_classes() - declared} == set(), "events the relay could not publish"
    assert {e.__qualname__ for e in declared - recorded_event_classes()} == set(), "schemas of events nobody records"


def test_every_internal_field_is_published_or_declared_private_and_every_published_field_exists() -> None:
    assert [problem for c in CONTRACT for problem in c.drift()] == []


def test_a_field_the_domain_adds_or_renames_is_reported_as_drift() -> None:
    @dataclasses.dataclass(frozen=True)
    class ChargeFailed:  # as if Subscription.ChargeFailed gained `card_token` and renamed `reason` to `decline_code`
        originator_id: Any
        originator_version: int
        timestamp: Any
        key: str
        cycle: int
        installment: int
        installments: int
        amount: int
        currency: str
        method: str
        decline_code: str
        hard_decline: bool
        status: str
        at: Any
        card_token: str
        actor: Any

    declared = CONTRACT.of_class(Subscription.ChargeFailed)  # type: ignore[attr-defined]
    changed = dataclasses.replace(declared, event_class=ChargeFailed)

    assert changed.drift() == [
        "ChargeFailed.decline_code is neither in the public schema ChargeFailedData nor private",
        "ChargeFailed.card_token is neither in the public schema ChargeFailedData nor private",
        "ChargeFailed has no field reason, which ChargeFailedData publishes",
    ]


def test_every_event_and_its_version_1_replay_encode_to_messages_the_asyncapi_document_accepts() -> None:
    events = corpus()
    encoder = EventEncoder(events.app.mapper, producer_lookup(events.app.recorder, events.app.mapper))
    checker = MessageChecker(asyncapi.document())
    encoded: set[str] = set()

    for notification in [*events.notifications, *map(as_version_1, events.notifications)]:
        public = encoder.encode(notification)
        name = public.body["type"].rsplit(".", 1)[-1]
        value = json.loads(public.value)
        assert checker.problems(name, "payload", value) == [], (name, value)
        assert checker.problems(name, "headers", {k: v.decode() for k, v in public.headers}) == [], name
        assert public.key == value["aggregate_id"].encode() and public.topic == CONTRACT.of(events.app.mapper.to_domain_event(
            notification)).topic
        encoded.add(name)

    assert encoded == {c.name for c in CONTRACT}, "the corpus must make every public event"


def test_the_fast_dump_gives_exactly_what_marshmallow_gives_for_every_event() -> None:
    events = corpus()
    for notification in [*events.notifications, *map(as_version_1, events.notifications)]:
        domain_event = events.app.mapper.to_domain_event(notification)
        contract = CONTRACT.of(domain_event)
        assert contract.dump(domain_event) == contract.schema().dump(domain_event), contract.name


def test_a_field_the_domain_adds_is_not_published_until_its_schema_declares_it() -> None:
    events = corpus()
    started = next(e for e in map(events.app.mapper.to_domain_event, events.notifications) if type(e).__name__ == "SubscriptionStarted")
    contract = CONTRACT.of(started)
    grown = SimpleNamespace(**vars(started), card_number="4242424242424242")

    data = contract.dump(grown)

    assert "card_number" not in data and "subscriber_token_hash" not in data
    assert "token" not in data["payment_method"] and data["payment_method"]["last4"] == "4242"


def test_an_event_missing_a_field_its_schema_promises_is_refused_rather_than_published_without_it() -> None:
    events = corpus()
    encoder = EventEncoder(events.app.mapper, producer_lookup(events.app.recorder, events.app.mapper))
    failed = next(n for n in events.notifications if n.topic.endswith("ChargeFailed"))
    state = json.loads(failed.state)
    del state["reason"]

    with pytest.raises(ContractViolationError, match="recur.subscription.ChargeFailed .*has no reason"):
        encoder.encode(dataclasses.replace(failed, state=json.dumps(state).encode()))


def test_a_schema_whose_newest_field_is_newer_than_its_version_is_refused() -> None:
    class RenamedData(PublicSchema):
        """A label and, since version 2, a colour."""

        label = text("A label.")
        colour = text("A colour.", since=2)

    with pytest.raises(TypeError, match="version 1 but its newest field is from version 2"):
        Contract().declare(Subscription.Cancelled, version=1)(RenamedData)  # type: ignore[attr-defined]


def test_the_committed_asyncapi_document_and_event_tables_are_what_the_schemas_generate() -> None:
    assert documents.stale(ROOT / "docs") == [], "run `recur contract docs` and commit the result"


def test_the_asyncapi_schemas_are_valid_json_schema_and_every_reference_resolves() -> None:
    document = asyncapi.document()
    for schema in document["components"]["schemas"].values():
        Draft7Validator.check_schema(schema)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    references = refs(document)
    assert len(references) > 100
    for ref in references:
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"{ref} points nowhere"
            target = target[part]


def test_the_documents_examples_are_messages_the_document_accepts() -> None:
    document = asyncapi.document()
    examples = [(name, e) for name, m in document["components"]["messages"].items() for e in m.get("examples", [])]

    assert len(examples) == 2
    checker = MessageChecker(document)
    for name, example in examples:
        assert checker.problems(name, "payload", example["payload"]) == []
        assert checker.problems(name, "headers", example["headers"]) == []


def test_a_declared_contract_names_its_public_type_and_topic() -> None:
    contract: EventContract = CONTRACT.of_class(Subscription.ChargeFailed)  # type: ignore[attr-defined]

    assert (contract.type, contract.topic, contract.version) == ("recur.subscription.ChargeFailed", "recur.subscriptions.v1", 1)
