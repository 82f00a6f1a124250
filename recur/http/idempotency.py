"""Idempotency-Key on every POST: a repeat with the same key and body replays the first response
with no second effect; the same key with another body is a 422. Keys are scoped to the caller."""

from __future__ import annotations

import hashlib
import json

from flask import Flask, Response, current_app, g, request

from recur.http.auth import ANONYMOUS, current_caller, is_public
from recur.http.errors import problem


def register_idempotency(app: Flask) -> None:
    @app.before_request
    def claim_or_replay() -> Response | None:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return None
        if len(key) > 255:
            return problem(
                422,
                "validation-error",
                "Invalid request",
                "Idempotency-Key is at most 255 characters",
                {"Idempotency-Key": ["at most 255 characters"]},
            )
        caller = ANONYMOUS if is_public(request.endpoint) else current_caller()
        scope = f"{caller.kind}:{caller.id}:{request.path}"
        digest = hashlib.sha256(request.get_data()).hexdigest()
        db = current_app.extensions["recur"].db
        row = db.fetchone(
            "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (%s, %s, %s) ON CONFLICT (scope, key) DO NOTHING RETURNING key",
            (scope, key, digest),
        )
        if row is not None:
            g.idempotency = (scope, key)
            return None
        stored = db.fetchone("SELECT request_hash, status_code, body FROM idempotency_keys WHERE scope = %s AND key = %s", (scope, key))
        if stored is None:  # released between our two statements: the first request failed
            return problem(409, "idempotency-retry", "Retry", "the first request with this key failed; send it again")
        if stored[0] != digest:
            return problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with another body; use a new key for a new request",
                {"Idempotency-Key": ["already used with a different body"]},
            )
        if stored[1] is None:
            return problem(
                409,
                "idempotency-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry in a moment",
            )
        return Response(json.dumps(stored[2]), status=stored[1], mimetype="application/json", headers={"Idempotent-Replayed": "true"})

    @app.after_request
    def remember(response: Response) -> Response:
        claim = g.pop("idempotency", None)
        if claim is None:
            return response
        db = current_app.extensions["recur"].db
        if 200 <= response.status_code < 300 and response.is_json:
            db.execute(
                "UPDATE idempotency_keys SET status_code = %s, body = %s WHERE scope = %s AND key = %s",
                (response.status_code, response.get_data(as_text=True), *claim),
            )
        else:
            # Failed requests had no effect (every command is all-or-nothing): free the key for a retry.
            db.execute("DELETE FROM idempotency_keys WHERE scope = %s AND key = %s", claim)
        return response
