"""Readiness of the pipeline behind the API: answers served from read models are only as good as the
events that reached them. Not ready while dead letters are unresolved (some aggregate's read model is
frozen before an event it could not apply) or while a projection is behind and not moving (stuck)."""

from __future__ import annotations

from typing import Any

from recur.consumers.dead_letters import unresolved_counts
from recur.db import Database
from recur.projections.lag import StallWatch, lag

WATCH_KEY = "recur.stall_watch"
OK = "ok"


def pipeline_checks(extensions: dict[str, Any], db: Database) -> dict[str, str]:
    """`dead_letters` and `read_models` checks, each "ok" or what is wrong. The stall watch lives in the app
    (one per API worker): it needs two looks some seconds apart to tell stuck from busy."""
    counts = unresolved_counts(db)
    dead = OK
    if counts:
        owners = ", ".join(f"{owner} {count}" for owner, count in counts.items())
        dead = f"{sum(counts.values())} unresolved ({owners}): see `recur projections status`, `retry-dead` after a fix"
    watch: StallWatch = extensions.setdefault(WATCH_KEY, StallWatch())
    stuck = watch.stuck(lag(db))
    models = OK
    if stuck:
        models = "stuck: " + ", ".join(f"{name} behind and not moving for {seconds:.0f}s" for name, seconds in stuck.items())
    return {"dead_letters": dead, "read_models": models}
