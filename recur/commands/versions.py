"""Optimistic concurrency for clients: a command may say which versions of the aggregate it was decided on, and is
refused, before any change, when the aggregate has moved on since (HTTP's If-Match)."""

from __future__ import annotations

from typing import Any

# The versions a client accepts; None: any (it asked for no check).
Expected = frozenset[int] | None
ANY_VERSION: Expected = None


class StaleVersionError(Exception):
    """The aggregate is no longer at a version the client accepts: read it again, decide again."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the resource is at version {current} now")
        self.current = current


def check_version(aggregate: Any, expected: Expected) -> None:
    if expected is not None and aggregate.version not in expected:
        raise StaleVersionError(aggregate.version)
