"""The public event contract sits below consumers and projections: it imports only the domain, and the
projections reach topic names and the encoder through it rather than through the consumers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "recur"


def recur_imports(folder: str) -> dict[str, set[str]]:
    """For each module of recur/<folder>, the recur modules it imports (at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = {name for name in names if name == "recur" or name.startswith("recur.")}
    return found


def test_the_contract_imports_nothing_of_recur_but_the_domain_and_itself() -> None:
    outside = {module: sorted(n for n in names if not n.startswith(("recur.domain", "recur.contract")))
               for module, names in recur_imports("contract").items()}

    assert {module: names for module, names in outside.items() if names} == {}


def test_projections_do_not_import_the_consumers() -> None:
    reaching = {module: sorted(n for n in names if n.startswith("recur.consumers"))
                for module, names in recur_imports("projections").items()}

    assert {module: names for module, names in reaching.items() if names} == {}
