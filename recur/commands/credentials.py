"""Bearer credentials that name their owner: `<prefix>_<aggregate id>_<secret>`.

Producer API keys (`rk_`) and subscriber tokens (`st_`) work alike: a 192-bit random secret, stored only
as a SHA-256 hash in the owner's aggregate (no brute force to slow, so no slow hash), and the owner's id in
the clear so that one event-store read checks a credential: no lookup table to keep.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

API_KEY = "rk"
SUBSCRIBER_TOKEN = "st"


@dataclass(frozen=True)
class NewSecret:
    """A secret made for an aggregate that does not exist yet: its hash goes into the aggregate's first event,
    and `credential(aggregate_id)` is what the owner is shown, once."""

    prefix: str
    secret: str

    @property
    def hash(self) -> str:
        return hash_secret(self.secret)

    def credential(self, owner_id: UUID) -> str:
        return f"{self.prefix}_{owner_id.hex}_{self.secret}"


@dataclass(frozen=True)
class Presented:
    """A credential as a caller presented it: whose it claims to be, and the secret to check."""

    owner_id: UUID
    secret: str

    def matches(self, stored_hash: str) -> bool:
        return secrets.compare_digest(stored_hash, hash_secret(self.secret))


def new_secret(prefix: str) -> NewSecret:
    return NewSecret(prefix, secrets.token_urlsafe(24))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented(prefix: str, credential: str) -> Presented | None:
    """The owner and secret of a credential with this prefix, or None when it cannot be one."""
    parts = credential.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix:
        return None
    try:
        owner_id = UUID(hex=parts[1])
    except ValueError:
        return None
    return Presented(owner_id, parts[2])
