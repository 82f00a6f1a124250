"""Webhook endpoints: a producer's URL that receives its subscriptions' events as signed HTTP POSTs.

The endpoint is configuration of the producer, like a report schedule: an aggregate on the catalog topic. Its
signing secret is not in its events (they are published and kept forever): the events name the secret by an id,
and the secret itself is stored sealed under the master key (recur.sealing), outside the event store. After a
rotation the previous secret stays valid for `PREVIOUS_SECRET_VALIDITY` (deliveries are signed with both), so a
receiver can switch secrets without dropping a delivery.

An endpoint is disabled by its producer, or by recur when its deliveries have failed for `FAILING_FOR` on end
(then its producer is told by e-mail); disabled, it receives nothing until enabled again. Deleted, it is gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.domain import Aggregate, event

from recur.domain.actor import Actor
from recur.domain.errors import InvalidStateError, RuleViolationError

ENABLED, DISABLED = "enabled", "disabled"
STATUSES = (ENABLED, DISABLED)
BY_PRODUCER, FAILING = "producer", "failing"  # who disabled it: its producer, or recur after FAILING_FOR of failures
DISABLED_REASONS = (BY_PRODUCER, FAILING)
PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
FAILING_FOR = timedelta(days=5)
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
SCHEMES = ("https", "http")  # http only in the sandbox: the address policy (recur.webhooks.address_policy) decides


def check_url(url: str) -> None:
    """The shape every endpoint URL has, wherever recur runs: absolute http(s), a host, no credentials, no fragment.
    Where it may point (public addresses, https outside the sandbox) is the address policy's to say: it needs DNS."""
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_LENGTH:
        raise RuleViolationError(f"url must be 1 to {MAX_URL_LENGTH} characters", "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RuleViolationError("url is not a valid URL", "url") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise RuleViolationError("url must be an absolute https URL", "url")
    if parts.username is not None or parts.password is not None:
        raise RuleViolationError("url must not carry credentials: every delivery is signed; verify the signature instead", "url")
    if parts.fragment or "#" in url:
        raise RuleViolationError("url must not have a fragment", "url")
    if port == 0 or any(character.isspace() or ord(character) < 32 for character in url):
        raise RuleViolationError("url is not a valid URL", "url")


def distinct_event_types(event_types: list[str], known: tuple[str, ...]) -> list[str]:
    """The types in their order, each once, every one of them known (`known`: the subscription events' webhook types).
    An empty list means every type, including types added later."""
    kept: list[str] = []
    for event_type in event_types:
        if event_type not in known:
            raise RuleViolationError(f"event_types: {event_type!r} is not an event type; known: {', '.join(known)}", "event_types")
        if event_type not in kept:
            kept.append(event_type)
    return kept


def check_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise RuleViolationError(f"description must be at most {MAX_DESCRIPTION_LENGTH} characters", "description")


class WebhookEndpoint(Aggregate):
    """One URL of one producer, its event filter and the id of its signing secret (never the secret)."""

    @classmethod
    def register(
        cls,
        *,
        producer_id: str,
        url: str,
        event_types: list[str],
        known_types: tuple[str, ...],
        description: str | None,
        secret_id: str,
        created_at: datetime,
        actor: Actor,
    ) -> WebhookEndpoint:
        check_url(url)
        check_description(description)
        return cls(
            producer_id=producer_id,
            url=url,
            event_types=distinct_event_types(event_types, known_types),
            description=description,
            secret_id=secret_id,
            created_at=created_at.astimezone(UTC),
            actor=actor,
        )

    @event("WebhookEndpointCreated")
    def __init__(
        self, producer_id: str, url: str, event_types: list[str], description: str | None, secret_id: str, created_at: datetime,
        actor: Actor,
    ) -> None:
        self.producer_id = producer_id
        self.url = url
        self.event_types = event_types
        self.description = description
        self.secret_id = secret_id
        self.created_at = created_at
        self.status = ENABLED
        self.disabled_reason: str | None = None
        self.enabled_at = created_at  # failures before this instant do not count towards disabling it
        self.previous_secret_id: str | None = None
        self.previous_secret_valid_until: datetime | None = None
        self.deleted_at: datetime | None = None

    # ------------------------------------------------------------------ reading
    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def enabled(self) -> bool:
        return self.status == ENABLED and not self.deleted

    def receives(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secret_ids(self, now: datetime) -> list[str]:
        """The secrets a delivery made at `now` is signed with: the current one, and the previous one for a day after a rotation."""
        ids = [self.secret_id]
        if self.previous_secret_id and self.previous_secret_valid_until and now < self.previous_secret_valid_until:
            ids.append(self.previous_secret_id)
        return ids

    def _check_not_deleted(self) -> None:
        if self.deleted:
            raise InvalidStateError("the webhook endpoint is deleted")

    # ------------------------------------------------------------------ changing
    def revise(self, changes: dict[str, Any], known_types: tuple[str, ...], at: datetime, actor: Actor) -> None:
        """Change any of url, event_types, description; only what differs is recorded."""
        self._check_not_deleted()
        unknown = set(changes) - {"url", "event_types", "description"}
        if unknown:
            raise RuleViolationError(f"cannot change {', '.join(sorted(unknown))}", sorted(unknown)[0])
        if "url" in changes:
            check_url(changes["url"])
        if "description" in changes:
            check_description(changes["description"])
        if "event_types" in changes:
            changes = {**changes, "event_types": distinct_event_types(list(changes["event_types"]), known_types)}
        differing = {name: value for name, value in changes.items() if getattr(self, name) != value}
        if differing:
            self._revised(changes=differing, at=at, actor=actor)

    @event("WebhookEndpointUpdated")
    def _revised(self, changes: dict[str, Any], at: datetime, actor: Actor) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def rotate_secret(self, secret_id: str, at: datetime, actor: Actor) -> None:
        self._check_not_deleted()
        self._secret_rotated(secret_id=secret_id, previous_secret_id=self.secret_id,
                             previous_valid_until=at.astimezone(UTC) + PREVIOUS_SECRET_VALIDITY, at=at, actor=actor)

    @event("WebhookSecretRotated")
    def _secret_rotated(self, secret_id: str, previous_secret_id: str, previous_valid_until: datetime, at: datetime,
                        actor: Actor) -> None:
        self.previous_secret_id = previous_secret_id
        self.previous_secret_valid_until = previous_valid_until
        self.secret_id = secret_id

    def enable(self, at: datetime, actor: Actor) -> None:
        self._check_not_deleted()
        if self.status != ENABLED:
            self._enabled(at=at, actor=actor)

    @event("WebhookEndpointEnabled")
    def _enabled(self, at: datetime, actor: Actor) -> None:
        self.status, self.disabled_reason, self.enabled_at = ENABLED, None, at

    def disable(self, at: datetime, actor: Actor) -> None:
        """Its producer turns it off: nothing is sent until it is enabled again."""
        self._check_not_deleted()
        if self.status != DISABLED:
            self._disabled(reason=BY_PRODUCER, failing_since=None, at=at, actor=actor)

    def disable_for_failing(self, failing_since: datetime, at: datetime, actor: Actor) -> bool:
        """recur turns it off after its deliveries failed from `failing_since` to `at`, at least FAILING_FOR (counted from
        when it was last enabled). Returns whether it did: not for an endpoint already off or deleted, nor too early."""
        if not self.enabled or at - max(failing_since, self.enabled_at) < FAILING_FOR:
            return False
        self._disabled(reason=FAILING, failing_since=max(failing_since, self.enabled_at), at=at, actor=actor)
        return True

    @event("WebhookEndpointDisabled")
    def _disabled(self, reason: str, failing_since: datetime | None, at: datetime, actor: Actor) -> None:
        self.status, self.disabled_reason = DISABLED, reason

    def delete(self, at: datetime, actor: Actor) -> None:
        self._check_not_deleted()
        self._deleted(at=at, actor=actor)

    @event("WebhookEndpointDeleted")
    def _deleted(self, at: datetime, actor: Actor) -> None:
        self.deleted_at = at
