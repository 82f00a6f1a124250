"""Erasure of a subscriber's personal data (see recur.commands.erasures): admins anywhere, producers in their own
subscriptions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import Schema

from recur.commands.erasures import Erasure, erase_subscriber, erasure_by_id
from recur.http.context import services
from recur.http.errors import ApiError
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
       status=201, location="/v1/erasures/{id}",
       description="Crypto-shredding: the data keys of the subscriptions started with this e-mail (a producer's "
       "own only) are destroyed, so their name, e-mail, country and card brand/last4 read null everywhere (events, read "
       "models, e-mail outbox, webhook bodies) with `erased: true`; amounts, dates, statuses and the audit trail stay, and "
       "the hash chain still verifies. A `SubscriberErased` event on each subscription tells downstream consumers to forget.")
def create_erasure(caller: Caller, body: dict[str, Any]) -> Erasure:
    return erase_subscriber(services(), str(body["email"]), caller.producer_id, caller.actor())


@route(bp.get, "/v1/erasures/<erasure_id>", TAG, "Read an erasure", roles=PRODUCER, response=ErasureView,
       description="As it was answered when made; a producer reads only the erasures it asked for.")
def get_erasure(erasure_id: str, caller: Caller) -> Erasure:
    found = erasure_by_id(services(), erasure_id, caller.producer_id)
    if found is None:
        raise ApiError(404, "not-found", "Not found", "no such erasure")
    return found
