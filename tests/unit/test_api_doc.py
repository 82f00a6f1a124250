"""docs/API.md is the HTTP contract for people, and says what the code serves: it is generated from the OpenAPI
document, and this test fails when the committed file is not what the generator writes today."""

from __future__ import annotations

from recur.http.api_doc import TARGET, document_app, render
from recur.http.openapi import spec_for


def test_the_committed_api_md_is_what_the_openapi_document_says() -> None:
    expected = render(spec_for(document_app()))
    assert TARGET.read_text() == expected, "docs/API.md is stale: run `python -m recur.http.api_doc`"


def test_api_md_names_every_operation_of_the_document() -> None:
    spec = spec_for(document_app())
    text = TARGET.read_text()
    for path, item in spec["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in text
