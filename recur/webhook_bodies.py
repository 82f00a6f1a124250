"""What a webhook delivery says: `{type, timestamp, data: {subscription, event: {version, name, data}}}`.

`subscription` is the subscription exactly as `GET /v1/subscriptions/{id}` showed it right after the event (rebuilt
from the event store at that version, dumped through the API's own representation), and `event` is the event as its
public contract and the audit trail show it: a receiver never needs a second call. The representation lives in the
HTTP layer, which consumers may not import; the body is therefore rendered here, in the process that sends it, once,
before the first attempt, and kept with the delivery so that every retry sends the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from recur.commands.history import subscription_after_event
from recur.commands.services import Services
from recur.http.representations.subscriptions import SubscriptionView

_VIEW = SubscriptionView()


def render_body(services: Services, webhook_type: str, subscription_id: str, version: int) -> bytes:
    """The JSON body (UTF-8, compact) of the delivery of event `version` of the subscription."""
    subscription, event = subscription_after_event(services, subscription_id, version)
    body: dict[str, Any] = {
        "type": webhook_type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "subscription": _VIEW.dump(subscription),
            "event": {"version": event.version, "name": event.type.rsplit(".", 1)[-1], "data": event.data},
        },
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
