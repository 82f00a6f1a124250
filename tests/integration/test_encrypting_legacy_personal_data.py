"""Events stored before personal data was encrypted (version 1: plain names, e-mails and cards in the stored JSON, no
`personal_data` field), replayed from rows the pre-encryption code itself wrote (fixtures/version_one_events.json, see
fixtures/make_version_one_events.py): they load as they were, an erasure by e-mail finds them, and `recur audit
encrypt-legacy` seals them once, re-chaining the log with the rewrite recorded, so no plain value is left in the database
while every load gives the same subscription.

Each test gets a database of its own, upgraded as a real one is: migrated up to 015, the version-1 rows written through
the event table's own trigger (so they are chained as they were), then migrated to the end (016, 017). The session's
shared database is never rewritten.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import Result
from test_erasure import pg_dump, traces_of

from recur.bootstrap import build_services
from recur.commands.audit_checkpoints import Checkpoint, record_checkpoint
from recur.commands.audit_verify import verify_chain
from recur.commands.erasures import erase_subscriber
from recur.commands.event_store import open_event_store
from recur.commands.services import Services
from recur.domain.actor import system_actor
from recur.domain.subscription import Subscription
from recur.migrations import migrate
from recur.sealing import check_master_key, generate_master_key
from recur.settings import Settings
from recur.supervisor import Stack

FIXTURE = Path(__file__).parent / "fixtures" / "version_one_events.json"
BEFORE_ENCRYPTION = "015"  # the last migration the pre-encryption code had
PEOPLE = {"Olga Antiga": "Olga.Antiga@Example.com", "Pedro Velho": "pedro.velho@example.com",
          "Rita Remota": "rita.remota@example.com"}


@dataclass
class Upgraded:
    url: str
    services: Services
    env: dict[str, str]
    subscriptions: dict[str, str]  # the subscriber's name -> the subscription id

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.services.db.fetchall(statement, params)

    def stored(self) -> list[tuple[Any, ...]]:
        return self.sql("SELECT notification_id, topic, state, chain_hash FROM recur_events ORDER BY notification_id")

    def load(self, name: str) -> Any:
        return self.services.events.load(self.subscriptions[name], Subscription)


def version_one_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["events"]
    return events


@pytest.fixture
def upgraded(postgres_server: Any, tmp_path: Path) -> Iterator[Upgraded]:
    from recur.embedded.postgres import create_database

    url = create_database(postgres_server.url, f"recur_legacy_{uuid.uuid4().hex[:10]}")
    before = tmp_path / "migrations_before_encryption"
    before.mkdir()
    for migration in resources.files("recur.migrations").iterdir():
        if migration.name.endswith(".sql") and migration.name[:3] <= BEFORE_ENCRYPTION:
            shutil.copyfile(str(migration), before / migration.name)
    migrate(url, before)
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            for event in version_one_events():
                cur.execute("INSERT INTO recur_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                            (event["originator_id"], event["originator_version"], event["topic"], event["state"].encode()))
    finally:
        conn.close()
    # The upgrade applies the encryption migrations next (and whatever came after them).
    assert migrate(url)[:2] == ["016_personal_data", "017_legacy_personal_data"]
    open_event_store(url, 1, create_table=True).close()  # what `recur up` does after migrating: the library's own types
    env = {"RECUR_DATABASE_URL": url, "RECUR_MASTER_KEY": generate_master_key(), "RECUR_ADMIN_TOKEN": "adm_legacy",
           "RECUR_SANDBOX": "1", "RECUR_KAFKA_BOOTSTRAP_SERVERS": ""}
    services = build_services(Settings.from_env(env), url, pool_size=3)
    started = {json.loads(event["state"])["subscriber"]["name"]: event["originator_id"] for event in version_one_events()
               if event["topic"].endswith(".SubscriptionStarted")}
    try:
        yield Upgraded(url, services, env, started)
    finally:
        services.close()


@pytest.fixture
def audit_cli(recur_cli: Callable[..., Result], upgraded: Upgraded) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return recur_cli("audit", *args, env=upgraded.env)

    return run


def plain_values_left(upgraded: Upgraded) -> list[str]:
    everything = [value for name, email in PEOPLE.items() for value in (name, email)]
    return traces_of(pg_dump(upgraded.url), *everything)


def test_version_one_events_load_with_their_plain_values_and_the_operator_is_told_to_encrypt_them(
        upgraded: Upgraded, audit_cli: Callable[..., Result], caplog: pytest.LogCaptureFixture) -> None:
    olga = upgraded.load("Olga Antiga")
    assert olga.subscriber == {"name": "Olga Antiga", "email": "Olga.Antiga@Example.com", "country": "BR"}
    assert (olga.payment_method["brand"], olga.payment_method["last4"]) == ("mastercard", "4444"), "her second card"

    verified = audit_cli("verify")
    assert verified.exit_code == 0, verified.output
    assert "4 events of 3 subscriptions" in verified.output and "recur audit encrypt-legacy" in verified.output
    with caplog.at_level(logging.WARNING, logger="recur.up"):
        Stack(Settings.from_env(upgraded.env)).warn_of_plain_personal_data(upgraded.url)
    assert any("4 events of 3 subscriptions" in record.getMessage() for record in caplog.records), "at `recur up`'s start"
    dry = audit_cli("encrypt-legacy", "--dry-run")
    assert dry.exit_code == 0 and "4 events of 3 subscriptions" in dry.stdout
    assert sorted(plain_values_left(upgraded)) == sorted([*PEOPLE, *PEOPLE.values()]), "nothing changed by looking"


def test_an_erasure_by_email_finds_a_subscription_started_before_encryption(upgraded: Upgraded,
                                                                              audit_cli: Callable[..., Result]) -> None:
    producer_id = upgraded.load("Olga Antiga").producer_id
    elsewhere = erase_subscriber(upgraded.services, "olga.antiga@example.com", str(uuid.uuid4()), system_actor())
    assert elsewhere.subscriptions == [], "another producer's subscriber is out of reach"
    erasure = erase_subscriber(upgraded.services, "  OLGA.antiga@example.com ", str(producer_id), system_actor())
    assert erasure.subscriptions == [upgraded.subscriptions["Olga Antiga"]]
    olga = upgraded.load("Olga Antiga")
    assert olga.subscriber == {"name": None, "email": None, "country": None}
    assert (olga.payment_method["brand"], olga.payment_method["last4"]) == (None, None)
    again = erase_subscriber(upgraded.services, "olga.antiga@example.com", None, system_actor())
    assert again.subscriptions == [], "nothing left to find"

    assert audit_cli("encrypt-legacy").exit_code == 0
    assert sorted(plain_values_left(upgraded)) == [], "her rows now store null; the others' are sealed"
    olga_rows = upgraded.sql("SELECT convert_from(state, 'UTF8')::json FROM recur_events WHERE originator_id = %s "
                             "AND topic LIKE %s ORDER BY originator_version", (upgraded.subscriptions["Olga Antiga"], "%Started"))
    assert olga_rows[0][0]["subscriber"] == {"name": None, "email": None, "country": None}
    assert "personal_data" not in olga_rows[0][0], "an erased subscription has no key to seal with"
    assert upgraded.load("Olga Antiga").subscriber == {"name": None, "email": None, "country": None}


def test_encrypt_legacy_leaves_no_plain_value_and_the_same_history_verifiable_and_loadable(
        upgraded: Upgraded, audit_cli: Callable[..., Result]) -> None:
    loaded_before = {name: vars(upgraded.load(name)) for name in PEOPLE}
    taken_before = record_checkpoint(upgraded.services.db)
    assert taken_before is not None

    done = audit_cli("encrypt-legacy")
    assert done.exit_code == 0, done.output
    assert "sealed 4 events" in done.stdout and "checkpoint before" in done.stdout and "checkpoint after" in done.stdout

    assert plain_values_left(upgraded) == []
    assert verify_chain(upgraded.services.db).ok
    assert {name: vars(upgraded.load(name)) for name in PEOPLE} == loaded_before
    pedro = erase_subscriber(upgraded.services, "Pedro.Velho@example.com", None, system_actor())
    assert pedro.subscriptions == [upgraded.subscriptions["Pedro Velho"]], "found through the lookup row made for him"

    stored = upgraded.stored()
    again = audit_cli("encrypt-legacy")
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    assert upgraded.stored() == stored, "a second run changes nothing"
    assert "recur audit encrypt-legacy" not in audit_cli("verify").output

    old = audit_cli("verify", "--checkpoint", f"{taken_before.notification_id}/{taken_before.hash}")
    assert old.exit_code == 1
    assert "SUPERSEDED" in old.stdout and "by the sanctioned rewrite 1" in old.stdout and "marked it superseded" in old.stdout
    listed = [json.loads(line) for line in audit_cli("checkpoints").stdout.splitlines()]
    assert [line.get("superseded_by", {}).get("id") for line in listed] == [None, 1], "the one after it, then the one before"
    assert listed[1]["superseded_by"]["first_changed_notification_id"] == upgraded.sql(
        "SELECT min(notification_id) FROM recur_events WHERE topic LIKE '%Started'")[0][0]
    after = Checkpoint.parse(json.dumps(listed[0]))
    assert audit_cli("verify", "--checkpoint", f"{after.notification_id}/{after.hash}").exit_code == 0


def test_a_broken_chain_makes_encrypt_legacy_refuse_and_change_nothing(upgraded: Upgraded,
                                                                        audit_cli: Callable[..., Result]) -> None:
    edited = upgraded.sql("SELECT notification_id FROM recur_events WHERE topic LIKE '%ChargeSucceeded' ORDER BY 1 LIMIT 1")[0][0]
    with upgraded.services.db.transaction() as cur:
        cur.execute("UPDATE recur_events SET state = replace(convert_from(state, 'UTF8'), '4990', '1')::bytea "
                    "WHERE notification_id = %s", (edited,))
    stored = upgraded.stored()

    refused = audit_cli("encrypt-legacy")
    assert refused.exit_code == 1
    assert f"the chain breaks at notification id {edited}" in refused.stdout and "nothing was changed" in refused.output
    assert upgraded.stored() == stored
    assert upgraded.sql("SELECT count(*) FROM audit_rewrites") == [(0,)]


def test_encrypt_legacy_without_the_master_key_is_a_configuration_error_that_changes_nothing(
        upgraded: Upgraded, recur_cli: Callable[..., Result], tmp_path: Path) -> None:
    stored = upgraded.stored()
    keyless = recur_cli("audit", "encrypt-legacy", env={**upgraded.env, "RECUR_MASTER_KEY": "", "RECUR_DATA_DIR": str(tmp_path)})
    assert keyless.exit_code == 2 and "RECUR_MASTER_KEY is not set" in keyless.output
    assert upgraded.services.master_key is not None
    check_master_key(upgraded.services.db, upgraded.services.master_key)  # the database's key, as `recur up` records it
    wrong = recur_cli("audit", "encrypt-legacy", env={**upgraded.env, "RECUR_MASTER_KEY": generate_master_key()})
    assert wrong.exit_code == 2 and "sealed under key" in wrong.output
    assert upgraded.stored() == stored


def test_what_changed_after_the_first_verification_is_verified_again_under_the_writers_lock(upgraded: Upgraded) -> None:
    """The command verifies the whole log, then takes the lock: the events past what it verified (written meanwhile, or
    edited) are verified there, before anything is rewritten."""
    from recur.commands.legacy_encryption import ChainBrokenError, encrypt_legacy

    head = upgraded.sql("SELECT max(notification_id) FROM recur_events")[0][0]
    with upgraded.services.db.transaction() as cur:
        cur.execute("UPDATE recur_events SET state = replace(convert_from(state, 'UTF8'), 'producer', 'admin')::bytea "
                    "WHERE notification_id = %s", (head,))
    stored = upgraded.stored()
    events = upgraded.services.events
    assert events.keys is not None
    with pytest.raises(ChainBrokenError) as refused:
        encrypt_legacy(upgraded.services.db, events.keys, events.mapper.transcoder, verified_head=head - 1)
    broken = refused.value.verification.first_break
    assert broken is not None and broken.notification_id == head
    assert upgraded.stored() == stored
