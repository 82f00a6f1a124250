"""The event log's verification as the API answers it (GET /v1/audit/verify)."""

from __future__ import annotations

from marshmallow import Schema, fields

from recur.http.representations.kit import instant, nested, representation, text


@representation
class ChainHeadView(Schema):
    notification_id = fields.Integer()
    hash = text("the chain hash there: SHA-256, hex")


@representation
class ChainBreakView(Schema):
    notification_id = fields.Integer(metadata={"description": "the first event whose stored hash is not the one recomputed"})
    aggregate_id = text("the aggregate (subscription, product, plan...) that event belongs to")
    version = fields.Integer(metadata={"description": "its version within the aggregate"})
    previous_notification_id = fields.Integer(allow_none=True, metadata={
        "description": "the last event that verified (null: none); a jump from it to notification_id may be a deleted event"})


@representation
class CheckpointView(Schema):
    notification_id = fields.Integer()
    hash = text()
    at = instant("when it was recorded (null: given as ID/HASH)", allow_none=True)


@representation
class CheckpointCheckView(Schema):
    checkpoint = nested(CheckpointView)
    matches = fields.Boolean(allow_none=True, metadata={"description": "null: not reached, the chain breaks before it"})
    found = text("what the verification found at the checkpoint's notification id")


@representation
class VerificationView(Schema):
    events_checked = fields.Integer()
    head = nested(ChainHeadView, allow_none=True, metadata={
        "description": "the last event that verified: the log's head when the chain holds (null: none)"})
    ok = fields.Boolean(metadata={"description": "the chain holds from the start (or `from`), and matches the checkpoint if one was given"})
    first_break = nested(ChainBreakView, allow_none=True)
    checkpoints = fields.List(fields.Nested(CheckpointCheckView), metadata={"description": "the checkpoint given, checked"})


@representation
class ErasureView(Schema):
    id = text("the erasure's id")
    email_hash = text("HMAC-SHA256 of the normalized e-mail under a key derived from the master key: names the person without "
                      "keeping their address")
    subscriptions = fields.List(fields.String(), metadata={
        "description": "the subscriptions whose personal data was erased (empty: none started with this address, or already erased)"})
    erased_at = instant()
