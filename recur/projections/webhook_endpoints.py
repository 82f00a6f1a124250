"""Webhook endpoints as producers list them (a read model of the WebhookEndpoint aggregate; its secret is not here).

A deleted endpoint keeps its row with `deleted_at`, so a rebuild and the live table agree row for row; every query
leaves deleted rows out.
"""

from __future__ import annotations

import json
from typing import Any

from recur.contract.topics import CATALOG
from recur.projections.base import Projection

webhook_endpoints = Projection("webhook_endpoints", [CATALOG], ["rm_webhook_endpoints"])


@webhook_endpoints.on("WebhookEndpointCreated")
def when_webhook_endpoint_created(cur: Any, event: dict[str, Any]) -> None:
    data = event["data"]
    cur.execute(
        "INSERT INTO rm_webhook_endpoints (id, producer_id, url, event_types, description, status, created_at, version) "
        "VALUES (%s, %s, %s, %s, %s, 'enabled', %s, %s) ON CONFLICT (id) DO NOTHING",
        (event["aggregate_id"], data["producer_id"], data["url"], json.dumps(data["event_types"]), data["description"],
         data["created_at"], event["version"]),
    )


@webhook_endpoints.on("WebhookEndpointUpdated")
def when_webhook_endpoint_updated(cur: Any, event: dict[str, Any]) -> None:
    changes = event["data"]["changes"]
    columns = {name: json.dumps(value) if name == "event_types" else value for name, value in changes.items()
               if name in ("url", "event_types", "description")}
    assignments = "".join(f"{name} = %s, " for name in columns)
    cur.execute(f"UPDATE rm_webhook_endpoints SET {assignments}version = %s WHERE id = %s",  # noqa: S608 - names from a fixed set
                (*columns.values(), event["version"], event["aggregate_id"]))


@webhook_endpoints.on("WebhookSecretRotated")
def when_webhook_secret_rotated(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_webhook_endpoints SET previous_secret_valid_until = %s, version = %s WHERE id = %s",
                (event["data"]["previous_valid_until"], event["version"], event["aggregate_id"]))


@webhook_endpoints.on("WebhookEndpointEnabled")
def when_webhook_endpoint_enabled(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_webhook_endpoints SET status = 'enabled', disabled_reason = NULL, version = %s WHERE id = %s",
                (event["version"], event["aggregate_id"]))


@webhook_endpoints.on("WebhookEndpointDisabled")
def when_webhook_endpoint_disabled(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_webhook_endpoints SET status = 'disabled', disabled_reason = %s, version = %s WHERE id = %s",
                (event["data"]["reason"], event["version"], event["aggregate_id"]))


@webhook_endpoints.on("WebhookEndpointDeleted")
def when_webhook_endpoint_deleted(cur: Any, event: dict[str, Any]) -> None:
    cur.execute("UPDATE rm_webhook_endpoints SET deleted_at = %s, version = %s WHERE id = %s",
                (event["data"]["at"], event["version"], event["aggregate_id"]))
