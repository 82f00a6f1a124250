"""Checking messages against the AsyncAPI document of the public events, as a downstream consumer could."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7


class MessageChecker:
    """Validates the `payload` or `headers` of the document's messages, refusing keys no schema of the document
    declares: the document lets consumers ignore unknown keys, but recur itself must not send any."""

    def __init__(self, document: dict[str, Any]) -> None:
        strict = copy.deepcopy(document)
        for name, schema in strict["components"]["schemas"].items():
            if "properties" in schema and name != "CloudEventsHeaders":
                schema["additionalProperties"] = False
        self.registry = Registry().with_resource("urn:recur:asyncapi", Resource.from_contents(strict, default_specification=DRAFT7))
        self.validators: dict[tuple[str, str], Draft7Validator] = {}

    def problems(self, message: str, part: str, value: Any) -> list[str]:
        if (message, part) not in self.validators:
            self.validators[message, part] = Draft7Validator(
                {"$ref": f"urn:recur:asyncapi#/components/messages/{message}/{part}"},
                registry=self.registry,
                format_checker=Draft7Validator.FORMAT_CHECKER,
            )
        return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.validators[message, part].iter_errors(value)]
