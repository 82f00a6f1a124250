"""Who did it: every event records the actor and the request that caused it, forever."""

from __future__ import annotations

from typing import TypedDict


class Actor(TypedDict):
    kind: str  # admin | producer | subscriber | system
    id: str
    request_id: str


def system_actor(request_id: str = "") -> Actor:
    return Actor(kind="system", id="scheduler", request_id=request_id)
