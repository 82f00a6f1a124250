"""Credentials: the admin token, a producer's API key, or a subscriber's token."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request

from recur.commands.catalog import producer_for_api_key
from recur.commands.subscriptions import subscription_for_token
from recur.domain.actor import Actor
from recur.http.context import services as current_services
from recur.http.errors import forbidden_action, unauthorized


class VerifiedKeys:
    """API keys verified in the last `ttl` seconds, per worker process.

    Checking a key reads the producer from the event store (measured: a third of a GET's time).
    Keys cannot be revoked or rotated yet; when they can, `ttl` bounds how long a revoked key lives on.
    """

    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self.entries: dict[str, tuple[float, Caller]] = {}
        self.lock = threading.Lock()

    def get(self, token: str) -> Caller | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        with self.lock:
            entry = self.entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, token: str, caller: Caller) -> None:
        key = hashlib.sha256(token.encode()).hexdigest()
        with self.lock:
            if len(self.entries) >= self.size:
                self.entries.clear()
            self.entries[key] = (time.monotonic(), caller)


@dataclass(frozen=True)
class Caller:
    kind: str  # admin | producer | subscriber
    id: str
    producer_id: str | None  # the tenant a producer or subscriber is confined to; None for admin
    subscription_id: str | None = None

    @property
    def scope(self) -> str | None:
        return self.producer_id

    def actor(self) -> Actor:
        return Actor(kind=self.kind, id=self.id, request_id=g.get("request_id", ""))


_verified_producers = VerifiedKeys()
# Who calls a public endpoint: no credentials are asked, so its Idempotency-Keys belong to no one in particular.
ANONYMOUS = Caller("anonymous", "anonymous", None)
View = TypeVar("View", bound=Callable[..., Any])


def public(view: View) -> View:
    """Mark a route that needs no credentials (a buyer's browser calls it)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return bool(getattr(view, "public", False))


def _bearer() -> str | None:
    """The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235)."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def current_caller() -> Caller:
    if "caller" in g:
        caller: Caller = g.caller
        return caller
    token = _bearer()
    if token is None:
        raise unauthorized()
    services = current_services()
    admin_token = services.settings.admin_token
    caller = None
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        caller = Caller("admin", "admin", None)
    elif token.startswith("rk_"):
        caller = _verified_producers.get(token)
        if caller is None:
            producer = producer_for_api_key(services, token)
            if producer is not None:
                caller = Caller("producer", str(producer.id), str(producer.id))
                _verified_producers.put(token, caller)
    elif token.startswith("st_"):
        sub = subscription_for_token(services, token)
        if sub is not None:
            caller = Caller("subscriber", str(sub.id), str(sub.producer_id), str(sub.id))
    if caller is None:
        raise unauthorized("the token is not valid: check the admin token, api_key or subscriber_token you send")
    g.caller = caller
    return caller


def require(*kinds: str) -> Caller:
    caller = current_caller()
    if caller.kind not in kinds:
        raise forbidden_action(f"this endpoint is for {' or '.join(kinds)} credentials")
    return caller


def check_subscription_access(caller: Caller, subscription_id: str) -> None:
    if caller.kind == "subscriber" and caller.subscription_id != subscription_id:
        raise forbidden_action("no such subscription (or it is not yours)")
