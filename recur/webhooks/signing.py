"""Standard Webhooks signatures, made by the specification's reference library (`standardwebhooks`), not by hand.

Each secret signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 (`v1,<base64>`); while a rotated secret is
still valid both sign and the signatures are sent space-separated, so a receiver holding either secret verifies.
`webhook-timestamp` is the wall clock's time of the attempt, in unix seconds: receivers reject timestamps more than a
few minutes from their own clock (replay protection), so it is never the sandbox clock, which may be years ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook

CONTENT_TYPE = "application/json"
USER_AGENT = "recur-webhooks/1"


def signature_header(webhook_id: str, timestamp: datetime, body: bytes, secrets: list[str]) -> str:
    """The `webhook-signature` value: one `v1,...` per secret, space-separated."""
    if not secrets:
        raise ValueError("a delivery is never sent unsigned")
    moment = timestamp.astimezone(UTC)
    text = body.decode("utf-8")
    return " ".join(Webhook(secret).sign(webhook_id, moment, text) for secret in secrets)


def delivery_headers(webhook_id: str, body: bytes, secrets: list[str], timestamp: datetime | None = None) -> dict[str, str]:
    """Every header of one attempt: the three Standard Webhooks headers, the content type and who is calling."""
    moment = (timestamp or datetime.now(UTC)).replace(microsecond=0)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature_header(webhook_id, moment, body, secrets),
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
    }
