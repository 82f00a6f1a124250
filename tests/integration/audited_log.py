"""An event store of its own for audit tests, on the session's PostgreSQL server: created the way every database is
(migrations, then eventsourcing's create_table), so that tests may tamper with its rows without touching the
shared one. Events are written through recur's own commands, and read back raw."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg2

from recur.bootstrap import build_services
from recur.commands import catalog
from recur.commands.audit_chain import StoredRow
from recur.commands.audit_verify import Verification, verify_chain
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.catalog import Plan, Producer
from recur.settings import Settings

MONTHLY = {"name": "Monthly", "periodicity": "monthly", "price": {"amount": 4990, "currency": "BRL"}}
# What bulk rows look like to the chain: a real event's topic, and a state of a typical size.
BULK_TOPIC = "recur.domain.catalog:Product.ProductCreated"


@dataclass
class AuditedLog:
    url: str
    services: Services
    producer: Producer

    @property
    def actor(self) -> Actor:
        return Actor(kind="producer", id=str(self.producer.id), request_id="req-audit")

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """A raw statement, committed at once: what someone with access to the database could do."""
        conn = psycopg2.connect(self.url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def plans(self, count: int) -> list[Plan]:
        """`count` plans of one new product, each saved on its own."""
        product = catalog.create_product(self.services, str(self.producer.id), "Guitar course", self.actor)
        return [catalog.define_plan(self.services, str(product.id), str(self.producer.id), MONTHLY, self.actor) for _ in range(count)]

    def revise_together(self, plans: list[Plan], times: int = 2) -> None:
        """Each plan revised `times` times, all saved at once: one transaction, one INSERT of several rows, as the
        billing run saves several subscriptions."""
        for plan in plans:
            for _ in range(times):
                plan.revise({"name": f"Monthly, as of version {plan.version}"}, self.actor)  # a new name: a new event
        self.services.events.store(*plans)

    def bulk(self, count: int, state_bytes: int = 400) -> None:
        """`count` rows inserted by one SQL statement, chained by the trigger as any write is."""
        self.sql(
            "INSERT INTO recur_events (originator_id, originator_version, topic, state) "
            "SELECT gen_random_uuid(), 1, %s, convert_to(repeat('x', %s), 'UTF8') FROM generate_series(1, %s)",
            (BULK_TOPIC, state_bytes, count),
        )

    def rows(self) -> list[StoredRow]:
        return [
            StoredRow(int(nid), uuid.UUID(str(oid)), int(version), topic, None if state is None else bytes(state),
                      None if chained is None else bytes(chained))
            for nid, oid, version, topic, state, chained in self.sql(
                "SELECT notification_id, originator_id, originator_version, topic, state, chain_hash FROM recur_events "
                "ORDER BY notification_id")
        ]

    def ids(self) -> list[int]:
        return [row.notification_id for row in self.rows()]

    def verify(self, **options: Any) -> Verification:
        return verify_chain(self.services.db, **options)

    def close(self) -> None:
        self.services.close()


def open_audited_log(postgres_server: Any) -> AuditedLog:
    from recur.commands.event_store import open_event_store
    from recur.db import migrate
    from recur.domain.actor import system_actor
    from recur.embedded.postgres import create_database

    url = create_database(postgres_server.url, f"recur_audit_{uuid.uuid4().hex[:10]}")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    services = build_services(Settings.from_env({"RECUR_DATABASE_URL": url}), url, pool_size=2)
    producer, _ = catalog.register_producer(services, "Ana Cursos", "ana@example.com", system_actor())
    return AuditedLog(url, services, producer)
