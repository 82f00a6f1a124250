"""Deliveries are signed as Standard Webhooks say, and the specification's own library verifies them: with either
secret while a rotated one is still valid; a changed body, id or timestamp fails."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from recur.commands.webhooks import new_signing_secret
from recur.contract.webhook_types import webhook_event_types, webhook_type
from recur.webhooks.schedule import MAX_ATTEMPTS, delay_after
from recur.webhooks.signing import delivery_headers

BODY = b'{"type":"subscription.cancelled","data":{"subscription":{"subscriber":{"name":"Zo\xc3\xab"}}}}'
WEBHOOK_ID = "7d1f1c9e-9f5e-4d7a-8a6f-0b1a2c3d4e5f:4"


def test_a_new_secret_is_whsec_and_32_random_bytes_of_base64() -> None:
    secret = new_signing_secret()
    assert secret.value.startswith("whsec_") and len(base64.b64decode(secret.value.removeprefix("whsec_"))) == 32
    assert new_signing_secret().value != secret.value and secret.secret_id != new_signing_secret().secret_id


def test_the_library_verifies_a_delivery_signed_with_either_secret_while_both_are_valid() -> None:
    old, new = new_signing_secret().value, new_signing_secret().value
    headers = delivery_headers(WEBHOOK_ID, BODY, [new, old])
    assert headers["webhook-id"] == WEBHOOK_ID and len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, headers)["type"] == "subscription.cancelled"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret().value).verify(BODY, headers)


def test_a_changed_body_id_or_old_timestamp_does_not_verify() -> None:
    secret = new_signing_secret().value
    headers = delivery_headers(WEBHOOK_ID, BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"cancelled", b"cancelleD"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": WEBHOOK_ID[:-1] + "5"})
    stale = delivery_headers(WEBHOOK_ID, BODY, [secret], timestamp=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, stale)


def test_a_delivery_is_never_sent_unsigned() -> None:
    with pytest.raises(ValueError, match="unsigned"):
        delivery_headers(WEBHOOK_ID, BODY, [])


def test_webhook_types_are_the_contracts_subscription_events_in_snake_case() -> None:
    assert webhook_type("ChargeFailed") == "subscription.charge_failed"
    assert {"subscription.charge_failed", "subscription.cancelled", "subscription.renewal_upcoming"} <= set(webhook_event_types())
    assert not any(kind.startswith("subscription.webhook") or "product" in kind for kind in webhook_event_types())


def test_retries_follow_the_schedule_then_stop() -> None:
    delays = [delay_after(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=5),
                      timedelta(hours=10), timedelta(hours=10)]
    assert delay_after(MAX_ATTEMPTS) is None
