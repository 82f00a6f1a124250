"""Webhook endpoints: a producer (or the admin for one) registers, changes, rotates the secret of, or deletes one;
the deliverer disables one that has failed for days.

The signing secret is made here and shown once. It is stored sealed under the master key (recur.sealing) in
`webhook_secrets`, *before* the event that names it is stored: an event never names a secret that is not there (a
save that fails leaves an unused sealed row, which nothing reads). Where the URL may point (public addresses, https
outside the sandbox) needs DNS, so the HTTP layer's address policy checks it before these commands run.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recur.commands.catalog import owned
from recur.commands.event_store import NotFoundError
from recur.commands.services import Services
from recur.commands.versions import ANY_VERSION, Expected, check_version
from recur.contract.webhook_types import webhook_event_types
from recur.db import Database
from recur.domain.actor import Actor
from recur.domain.catalog import Producer
from recur.domain.webhooks import DISABLED, ENABLED, WebhookEndpoint
from recur.sealing import MasterKey

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # an HMAC-SHA256 key as long as the hash
SEALING_PURPOSE = "webhook secrets"


@dataclass(frozen=True)
class SigningSecret:
    """A secret as the producer is shown it once (`whsec_` + base64) and as deliveries are signed with it."""

    secret_id: str
    value: str


def new_signing_secret() -> SigningSecret:
    return SigningSecret(f"whsk_{uuid.uuid4().hex}", SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode())


def _context(endpoint_id: str, secret_id: str) -> bytes:
    """What a sealed secret is bound to: copied to another endpoint's row, it does not open."""
    return f"{endpoint_id}:{secret_id}".encode()


def store_secret(services: Services, endpoint_id: str, secret: SigningSecret) -> None:
    sealer = services.require_master_key().sealer(SEALING_PURPOSE)
    services.db.execute(
        "INSERT INTO webhook_secrets (id, endpoint_id, sealed) VALUES (%s, %s, %s)",
        (secret.secret_id, endpoint_id, sealer.seal(secret.value.encode(), _context(endpoint_id, secret.secret_id))),
    )


def signing_secrets(services: Services, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets (`whsec_...`) a delivery made at `now` is signed with: the current one first, the previous one for a
    day after a rotation. A secret that does not open under this master key is an error, never an unsigned delivery."""
    return open_secrets(services.db, services.require_master_key(), str(endpoint.id), endpoint.signing_secret_ids(now))


def open_secrets(db: Database, master_key: MasterKey, endpoint_id: str, secret_ids: list[str]) -> list[str]:
    rows = dict(db.fetchall("SELECT id, sealed FROM webhook_secrets WHERE endpoint_id = %s AND id = ANY(%s)", (endpoint_id, secret_ids)))
    missing = [secret_id for secret_id in secret_ids if secret_id not in rows]
    if missing:
        raise LookupError(f"webhook endpoint {endpoint_id} names secrets that are not stored: {', '.join(missing)}")
    sealer = master_key.sealer(SEALING_PURPOSE)
    return [sealer.open(bytes(rows[secret_id]), _context(endpoint_id, secret_id)).decode() for secret_id in secret_ids]


def create_webhook_endpoint(services: Services, producer_id: str, fields: dict[str, Any], actor: Actor) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is shown this once. It receives the events recorded after it."""
    services.events.load(producer_id, Producer)
    secret = new_signing_secret()
    endpoint = WebhookEndpoint.register(
        producer_id=producer_id,
        url=fields["url"],
        event_types=list(fields.get("event_types") or []),
        known_types=webhook_event_types(),
        description=fields.get("description"),
        secret_id=secret.secret_id,
        created_at=services.clock.now(),
        actor=actor,
    )
    store_secret(services, str(endpoint.id), secret)
    services.events.store(endpoint)
    return endpoint, secret.value


def visible_webhook_endpoint(services: Services, endpoint_id: str, caller_producer_id: str | None) -> WebhookEndpoint:
    """An endpoint the caller may see: another producer's, and a deleted one, are unknown."""
    endpoint: WebhookEndpoint = owned(services, endpoint_id, WebhookEndpoint, caller_producer_id)
    if endpoint.deleted:
        raise NotFoundError(endpoint_id)
    return endpoint


def update_webhook_endpoint(services: Services, endpoint_id: str, caller_producer_id: str | None, changes: dict[str, Any],
                            actor: Actor, expected: Expected = ANY_VERSION) -> WebhookEndpoint:
    """Any of url, event_types, description and status (`enabled` / `disabled`), in one save."""
    endpoint = visible_webhook_endpoint(services, endpoint_id, caller_producer_id)
    check_version(endpoint, expected)
    now = services.clock.now()
    revised = {name: value for name, value in changes.items() if name != "status"}
    if revised:
        endpoint.revise(revised, webhook_event_types(), now, actor)
    if changes.get("status") == ENABLED:
        endpoint.enable(now, actor)
    elif changes.get("status") == DISABLED:
        endpoint.disable(now, actor)
    services.events.store(endpoint)
    return endpoint


def rotate_webhook_secret(services: Services, endpoint_id: str, caller_producer_id: str | None,
                          actor: Actor) -> tuple[WebhookEndpoint, str]:
    """A new secret, shown this once; deliveries are signed with the old one too for 24 hours (on the clock)."""
    endpoint = visible_webhook_endpoint(services, endpoint_id, caller_producer_id)
    secret = new_signing_secret()
    store_secret(services, str(endpoint.id), secret)
    endpoint.rotate_secret(secret.secret_id, services.clock.now(), actor)
    services.events.store(endpoint)
    return endpoint, secret.value


def delete_webhook_endpoint(services: Services, endpoint_id: str, caller_producer_id: str | None, actor: Actor) -> WebhookEndpoint:
    endpoint = visible_webhook_endpoint(services, endpoint_id, caller_producer_id)
    endpoint.delete(services.clock.now(), actor)
    services.events.store(endpoint)
    return endpoint


def disable_failing_webhook_endpoint(services: Services, endpoint_id: str, failing_since: datetime, at: datetime,
                                     actor: Actor) -> bool:
    """recur disables an endpoint whose deliveries have failed since `failing_since` (5 days or more by `at`); whether it did."""
    try:
        endpoint: WebhookEndpoint = services.events.load(endpoint_id, WebhookEndpoint)
    except NotFoundError:
        return False
    if not endpoint.disable_for_failing(failing_since, at, actor):
        return False
    services.events.store(endpoint)
    return True
