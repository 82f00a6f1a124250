"""The layers keep to themselves: each imports only what lies below it, the HTTP layer writes no SQL and
replays no events, and only the sandbox adapter knows the sandbox gateway's tables."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "recur"
# Infrastructure every layer may use: the database pool, settings, deadlines, logging, sealing under the master key.
SHARED = {"db", "settings", "deadlines", "logs", "sealing"}
ALLOWED = {
    "notifications": {"domain", "contract", "commands", "notifications"},
    "webhooks": {"domain", "contract", "commands", "webhooks"},
    "domain": {"domain"},
    # The public event contract (encoding, topics, schemas) sits just above the domain: the audit trail in
    # commands, the relay, the projections and the HTTP layer all read events through it.
    "contract": {"domain", "contract"},
    "commands": {"domain", "contract", "commands"},
    "gateways": {"domain", "contract", "commands", "gateways"},
}
ABOVE_HTTP = {"cli", "workers", "supervisor", "embedded"}
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")
SANDBOX_TABLES = re.compile(r"\b(sandbox_cards|sandbox_boletos|sandbox_outcomes|sandbox_refunds|gateway_charges)\b")


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def imported_parts(path: Path) -> set[str]:
    """The top-level recur subpackages or modules a file imports (`recur.commands.event_store` -> `commands`)."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in getattr(node, "names", [])]
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in names:
            if name.startswith("recur."):
                parts.add(name.split(".")[1])
    return parts


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_lower_layer_imports_nothing_above_it(layer: str) -> None:
    wrong = {str(path.relative_to(PACKAGE)): sorted(imported_parts(path) - ALLOWED[layer] - SHARED) for path in modules(layer)}
    assert {path: parts for path, parts in wrong.items() if parts} == {}


def test_the_http_layer_imports_neither_the_processes_that_run_it_nor_the_embedded_servers() -> None:
    wrong = {str(path.relative_to(PACKAGE)): sorted(imported_parts(path) & ABOVE_HTTP) for path in modules("http")}
    assert {path: parts for path, parts in wrong.items() if parts} == {}


def test_nothing_below_the_http_layer_imports_it() -> None:
    below = [path for layer in ("domain", "contract", "commands", "gateways", "projections", "consumers") for path in modules(layer)]
    assert [str(path.relative_to(PACKAGE)) for path in below if "http" in imported_parts(path)] == []


def test_the_http_layer_writes_no_sql_and_replays_no_events() -> None:
    for path in modules("http"):
        text = path.read_text()
        assert not SQL.findall(text), f"{path.name} writes SQL: read models are read through recur.projections.queries"
        assert "select_events" not in text and ".mapper." not in text, f"{path.name} replays the event store"


def test_only_the_sandbox_adapter_knows_the_sandbox_gateways_tables() -> None:
    knowing = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if SANDBOX_TABLES.search(path.read_text())}
    assert knowing == {"gateways/sandbox.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, wherever the import stands (`from recur import gateways` is `recur.gateways`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_only_the_bootstrap_imports_a_payment_gateway_adapter() -> None:
    """Billing, the HTTP layer, the workers and the CLI know the port (recur.commands.gateway) and never which gateway
    runs: recur.bootstrap builds the adapter RECUR_GATEWAY names, and the adapters import each other at most."""
    importing = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if path.parent != PACKAGE / "gateways"
                 and any(name == "recur.gateways" or name.startswith("recur.gateways.") for name in imported_modules(path))}
    assert importing == {"bootstrap.py"}


def test_services_carry_the_payment_gateway_port_not_an_adapter() -> None:
    from typing import get_type_hints

    from recur.commands.gateway import PaymentGateway
    from recur.commands.services import Services

    assert get_type_hints(Services)["gateway"] is PaymentGateway


def test_each_helper_is_written_once() -> None:
    """One `services()` for the HTTP layer, one set of cancellation origins, one credential format."""
    everything = {path: path.read_text() for path in PACKAGE.rglob("*.py")}
    assert [p.name for p, text in everything.items() if re.search(r"^def services\(", text, re.M)] == ["context.py"]
    assert [p.name for p, text in everything.items() if re.search(r"^ORIGINS\b", text, re.M)] == ["subscription.py"]
    assert [p.name for p, text in everything.items() if re.search(r"^ORIGIN_OF\b", text, re.M)] == ["subscriptions.py"]
    assert [p.name for p, text in everything.items() if "hashlib.sha256(secret" in text] == ["credentials.py"]
