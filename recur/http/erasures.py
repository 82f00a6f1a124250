"""Erasure of a subscriber's personal data (see recur.commands.erasures): admins anywhere, producers in their own
subscriptions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema

from recur.commands.erasures import Erasure, erase_subscriber
from recur.http.context import services
from recur.http.fields import Text
from recur.http.limits import MAX_EMAIL_LENGTH
from recur.http.representations.audit import ErasureView
from recur.http.routes import PRODUCER, Caller, route

bp = Blueprint("erasures", __name__)
TAG = "Audit"


class ErasureSchema(Schema):
    # Any text, not only what the API accepts today: a subscriber stored under older rules must be erasable too.
    email = Text(required=True, max_length=MAX_EMAIL_LENGTH, required_non_blank=True,
                 metadata={"description": "the subscriber's e-mail address (letter case and surrounding blanks do not matter)"})


@route(bp.post, "/v1/erasures", TAG, "Erase a subscriber's personal data", roles=PRODUCER, body=ErasureSchema, response=ErasureView,
       status=201, description="Crypto-shredding: the data keys of the subscriptions started with this e-mail (a producer's "
       "own only) are destroyed, so their name, e-mail, country and card brand/last4 read null everywhere (events, read "
       "models, e-mail outbox, webhook bodies) with `erased: true`; amounts, dates, statuses and the audit trail stay, and "
       "the hash chain still verifies. A `SubscriberErased` event on each subscription tells downstream consumers to forget.")
def create_erasure(caller: Caller, body: dict[str, Any]) -> Erasure:
    return erase_subscriber(services(), str(body["email"]), caller.producer_id, caller.actor())
