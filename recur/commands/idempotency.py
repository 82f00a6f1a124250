"""Idempotency keys kept as Stripe keeps them: a repeat of a request replays its first response.

- A key lives 24 hours; after that it is forgotten and may be used again.
- A claim names the process that holds it and a lease: how long its request can still touch the
  database (its deadline, see recur/deadlines.py; `STALE_AFTER` for the few routes without one). A
  claim whose lease ran out, or whose process died (same host: the pid is gone or was reused), may be
  taken over, so a retry after a killed worker or a database outage is never "in progress" forever. Before running the request again we
  look for events that the dead request recorded (they carry its request id): if it took effect, the
  retry is told so instead of repeating it, because a repeated subscription start would charge twice.
- Nothing readable by whoever reads the table: the key is stored as a SHA-256 hash and the response
  body (which may hold a one-time `api_key` or `subscriber_token`) is sealed with AES-GCM under a key
  derived from the Idempotency-Key itself, which is never stored. Only the client that holds the key
  can have the body replayed.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import psutil
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recur.db import Database

KEY_LIFETIME = timedelta(hours=24)
# The lease of a request without a database deadline (no such request runs longer: the longest, a
# sandbox clock advance over years, takes well under a minute).
STALE_AFTER = timedelta(minutes=10)
_SEAL_INFO = b"recur idempotent response v1"


class ClaimState(Enum):
    CLAIMED = "claimed"  # run the request; then `complete` or `release`
    REPLAY = "replay"  # the first response is stored: answer with it
    OTHER_BODY = "other_body"  # the key was used with another request body
    IN_PROGRESS = "in_progress"  # a live process is running the first request
    TOOK_EFFECT = "took_effect"  # the first request's process died after recording its events


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    status_code: int | None = None
    body: bytes | None = None


@dataclass(frozen=True)
class KeyedRequest:
    """One request under an Idempotency-Key: who sent it (scope: caller and path), the key, its body."""

    scope: str
    key: str
    body: bytes
    request_id: str
    lease: timedelta = STALE_AFTER

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(self.key.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def _sealing_key(self) -> bytes:
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=self.scope.encode(), info=_SEAL_INFO)
        return kdf.derive(self.key.encode("utf-8", "surrogatepass"))

    def seal(self, response_body: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self._sealing_key()).encrypt(nonce, response_body, self.key_hash.encode())

    def open(self, sealed: bytes) -> bytes:
        return AESGCM(self._sealing_key()).decrypt(sealed[:12], sealed[12:], self.key_hash.encode())


def scope_for(caller_kind: str | None, caller_id: str | None, path: str) -> str:
    """Keys are per caller and path; anonymous callers (a buyer's browser making a card token) share one scope."""
    who = f"{caller_kind}:{caller_id}" if caller_kind else "anonymous"
    return f"{who}:{path}"


def this_process() -> str:
    """host:pid:start time. The start time tells a live process from a later one that reused its pid."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{int(psutil.Process(pid).create_time())}"


def owner_is_dead(owner: str) -> bool:
    """Whether the owner ran on this host and is gone (of another host's processes we cannot tell)."""
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return False
    pid_text, _, started = rest.partition(":")
    try:
        process = psutil.Process(int(pid_text))
        return int(process.create_time()) != int(started)
    except (psutil.NoSuchProcess, ValueError):
        return True


class IdempotencyStore:
    def __init__(self, db: Database, events_table: str) -> None:
        self.db = db
        self.events_table = events_table

    def claim(self, request: KeyedRequest) -> Claim:
        row = self.db.fetchone(
            "INSERT INTO idempotency_keys (scope, key_hash, request_hash, owner, request_id, log_position, lease_until, expires_at) "
            f"VALUES (%s, %s, %s, %s, %s, (SELECT coalesce(max(notification_id), 0) FROM {self.events_table}), now() + %s, now() + %s) "
            "ON CONFLICT (scope, key_hash) DO UPDATE SET request_hash = EXCLUDED.request_hash, owner = EXCLUDED.owner, "
            "request_id = EXCLUDED.request_id, log_position = EXCLUDED.log_position, status_code = NULL, sealed_body = NULL, "
            "created_at = now(), lease_until = EXCLUDED.lease_until, expires_at = EXCLUDED.expires_at "
            "WHERE idempotency_keys.expires_at <= now() RETURNING key_hash",
            (request.scope, request.key_hash, request.body_hash, this_process(), request.request_id, request.lease, KEY_LIFETIME),
        )
        if row is not None:
            return Claim(ClaimState.CLAIMED)
        stored = self.db.fetchone(
            "SELECT request_hash, status_code, sealed_body, owner, request_id, log_position, lease_until < now() "
            "FROM idempotency_keys WHERE scope = %s AND key_hash = %s",
            (request.scope, request.key_hash),
        )
        if stored is None:  # released between our two statements: the first request failed
            return self.claim(request)
        request_hash, status_code, sealed_body, owner, first_request_id, log_position, lease_over = stored
        if request_hash != request.body_hash:
            return Claim(ClaimState.OTHER_BODY)
        if status_code is not None:
            return Claim(ClaimState.REPLAY, status_code, request.open(bytes(sealed_body)))
        if not (lease_over or owner_is_dead(owner)):
            return Claim(ClaimState.IN_PROGRESS)
        if self._recorded_events(first_request_id, log_position):
            return Claim(ClaimState.TOOK_EFFECT)
        taken = self.db.fetchone(
            "UPDATE idempotency_keys SET owner = %s, request_id = %s, created_at = now(), lease_until = now() + %s "
            "WHERE scope = %s AND key_hash = %s AND owner = %s AND status_code IS NULL RETURNING key_hash",
            (this_process(), request.request_id, request.lease, request.scope, request.key_hash, owner),
        )
        return Claim(ClaimState.CLAIMED if taken else ClaimState.IN_PROGRESS)

    def _recorded_events(self, request_id: str, log_position: int) -> bool:
        """Whether any event after the claim was recorded by that request (its actor names the request id)."""
        if not request_id:
            return False
        marker = f'"request_id":"{request_id}"'
        row = self.db.fetchone(
            f"SELECT 1 FROM {self.events_table} WHERE notification_id > %s AND position(convert_to(%s, 'UTF8') in state) > 0 LIMIT 1",
            (log_position, marker),
        )
        return row is not None

    def complete(self, request: KeyedRequest, status_code: int, response_body: bytes) -> None:
        self.db.execute(
            "UPDATE idempotency_keys SET status_code = %s, sealed_body = %s WHERE scope = %s AND key_hash = %s AND request_id = %s",
            (status_code, request.seal(response_body), request.scope, request.key_hash, request.request_id),
        )

    def release(self, request: KeyedRequest) -> None:
        """A failed request had no effect (every command is all-or-nothing): free its key for a retry."""
        self.db.execute(
            "DELETE FROM idempotency_keys WHERE scope = %s AND key_hash = %s AND request_id = %s AND status_code IS NULL",
            (request.scope, request.key_hash, request.request_id),
        )

    def forget_expired(self, limit: int = 10_000) -> int:
        """Delete keys past their 24 hours (the scheduler calls this; expired keys are ignored meanwhile)."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT %s)",
                (limit,),
            )
            return int(cur.rowcount)
