"""The reading of the results (placeholder until the first full run)."""

from __future__ import annotations

from typing import Any


def reading(results: list[dict[str, Any]], prof: dict[str, Any]) -> list[str]:
    return ["## Reading", "", "(to be written)"]
