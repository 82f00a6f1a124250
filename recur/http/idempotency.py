"""Idempotency-Key on every POST: a repeat with the same key and body replays the first response
with no second effect; the same key with another body is a 422. Keys are scoped to the caller and
path (anonymous callers, such as a buyer's browser making a card token, share one scope); how they
are kept is in recur/commands/idempotency.py."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask, Response, g, request

from recur.commands.idempotency import STALE_AFTER, ClaimState, IdempotencyStore, KeyedRequest, scope_for
from recur.deadlines import answer_within, time_left
from recur.http.auth import current_caller, is_public
from recur.http.context import services
from recur.http.errors import DATABASE_UNAVAILABLE, problem

log = logging.getLogger(__name__)
MAX_KEY_LENGTH = 255
RECORD_SECONDS = 2.0
LEASE_MARGIN_SECONDS = RECORD_SECONDS + 1.0  # the outcome is recorded with an allowance of its own


def _store() -> IdempotencyStore:
    return IdempotencyStore(services().db, services().events.recorder.events_table_name)


def _scope() -> str:
    if is_public(request.endpoint):
        return scope_for(None, None, request.path)
    caller = current_caller()
    return scope_for(caller.kind, caller.id, request.path)


def _lease() -> timedelta:
    """Past its database deadline a request can change nothing more: its claim may then be taken over."""
    left = time_left()
    return STALE_AFTER if left is None else timedelta(seconds=left + LEASE_MARGIN_SECONDS)


def register_idempotency(app: Flask) -> None:
    @app.before_request
    def claim_or_replay() -> Response | None:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return None
        if len(key) > MAX_KEY_LENGTH:
            return problem(
                422,
                "validation-error",
                "Invalid request",
                f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters",
                {"Idempotency-Key": [f"at most {MAX_KEY_LENGTH} characters"]},
            )
        keyed = KeyedRequest(_scope(), key, request.get_data(), g.get("request_id", ""), _lease())
        store = _store()
        if _unreleased.claims:
            _unreleased.release_all(store)
        claim = store.claim(keyed)
        if claim.state is ClaimState.CLAIMED:
            g.idempotency = keyed
            return None
        if claim.state is ClaimState.OTHER_BODY:
            return problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with another body; use a new key for a new request",
                {"Idempotency-Key": ["already used with a different body"]},
            )
        if claim.state is ClaimState.IN_PROGRESS:
            response = problem(
                409,
                "idempotency-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry in a moment",
            )
            response.headers["Retry-After"] = "1"
            return response
        if claim.state is ClaimState.TOOK_EFFECT:
            return problem(
                409,
                "idempotency-response-lost",
                "Request took effect, response lost",
                "the first request with this Idempotency-Key took effect but its server stopped before answering; "
                "it was not run again: list the resource to find what it created",
            )
        assert claim.body is not None and claim.status_code is not None
        return Response(claim.body, status=claim.status_code, mimetype="application/json", headers={"Idempotent-Replayed": "true"})

    @app.after_request
    def remember(response: Response) -> Response:
        keyed: KeyedRequest | None = g.pop("idempotency", None)
        if keyed is None:
            return response
        # Its own allowance: the request's deadline may be spent (that is often why it failed).
        with answer_within(RECORD_SECONDS):
            try:
                if 200 <= response.status_code < 300 and response.is_json:
                    _store().complete(keyed, response.status_code, response.get_data())
                else:
                    _store().release(keyed)
            except DATABASE_UNAVAILABLE as error:
                log.warning("could not record the outcome of Idempotency-Key request (%s); releasing it later", error)
                _unreleased.put(keyed)
        return response


class UnreleasedClaims:
    """Claims this process could not release because the database was down. Until released, a retry
    with the key is answered "in progress" (this process is alive); the next keyed request here
    releases them first, so the wait ends as soon as the database is back."""

    def __init__(self) -> None:
        self.claims: list[KeyedRequest] = []
        self.lock = threading.Lock()

    def put(self, keyed: KeyedRequest) -> None:
        with self.lock:
            self.claims.append(keyed)

    def release_all(self, store: IdempotencyStore) -> None:
        with self.lock:
            pending, self.claims = self.claims, []
        for index, keyed in enumerate(pending):
            try:
                store.release(keyed)
            except DATABASE_UNAVAILABLE:
                with self.lock:
                    self.claims.extend(pending[index:])
                return


_unreleased = UnreleasedClaims()
