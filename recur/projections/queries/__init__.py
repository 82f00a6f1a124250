"""What the API and the dashboard page read: plain SQL over read-model tables, never the domain model.

One module per subject, functions named for the question they answer. Lists come back as a `Page`: the
rows asked for, and where the next page starts (the last row's sort key and id) when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A page continues strictly after the (sort key, id) of the previous page's last row.
After = tuple[str, str]


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_after: tuple[datetime, Any] | None  # (sort key, id) of the last row, when more rows follow


def page_of(rows: list[dict[str, Any]], limit: int, sort_key: str, id_key: str) -> Page:
    """`rows` were fetched with limit + 1: the extra row only says that another page exists."""
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], (last[sort_key], last[id_key]))
