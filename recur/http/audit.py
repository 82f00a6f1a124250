"""The auditor's verification of the event log's hash chain (see recur.commands.audit_verify)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from recur.commands.audit_verify import CheckpointOutOfRangeError, Verification, verify_chain
from recur.http.context import services
from recur.http.query import AuditVerifyQuery, invalid
from recur.http.representations.audit import VerificationView
from recur.http.request_deadline import allow_seconds
from recur.http.routes import ADMIN, route

bp = Blueprint("audit", __name__)
TAG = "Audit"


@route(bp.get, "/v1/audit/verify", TAG, "Verify the event log's hash chain", roles=ADMIN, query=AuditVerifyQuery,
       response=VerificationView, description="Recomputes the hash chain over every stored event, in notification order, and "
       "reports the first break: an event edited, deleted, inserted or moved. With `checkpoint`, also proves that the "
       "history up to it is the one the checkpoint was taken from. Reads the whole log (flat memory): seconds per million events.")
@allow_seconds(None)  # as long as the log needs; each batch of events must still arrive within 30 s
def verify(query: dict[str, Any]) -> Verification:
    checkpoint = query.get("checkpoint")
    try:
        return verify_chain(services().db, query.get("from_"), [checkpoint] if checkpoint else [])
    except CheckpointOutOfRangeError as error:
        raise invalid("checkpoint", str(error)) from None
