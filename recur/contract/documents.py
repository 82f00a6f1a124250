"""The documents generated from the contract, and where they live: `recur contract docs` writes them,
tests/unit/test_public_event_contract.py checks that the committed ones are what it would write."""

from __future__ import annotations

from pathlib import Path

from recur.contract import asyncapi, events_doc


def expected(docs_dir: Path) -> dict[Path, str]:
    """Each generated file with the content it should have (EVENTS.md keeps its hand-written prose)."""
    events_md = docs_dir / "EVENTS.md"
    return {
        docs_dir / "asyncapi.yaml": asyncapi.render(),
        events_md: events_doc.splice(events_md.read_text(encoding="utf-8")),
    }


def stale(docs_dir: Path) -> list[Path]:
    return [path for path, text in expected(docs_dir).items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def write(docs_dir: Path) -> list[Path]:
    """Rewrite the stale documents; returns them."""
    changed = []
    for path, text in expected(docs_dir).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
