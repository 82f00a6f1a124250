"""Where the adapters are chosen, once per process: the API, each worker, the CLI and the tests build their
services here, and nothing below (commands, projections, consumers) knows which adapter it got."""

from __future__ import annotations

import logging

from recur.commands.clock import Clock, SandboxClock, SystemClock
from recur.commands.event_store import RecurEvents, open_event_store
from recur.commands.gateway import PaymentGateway
from recur.commands.services import Services
from recur.db import Database
from recur.sealing import MasterKey, check_master_key
from recur.settings import Settings

log = logging.getLogger(__name__)


def build_services(settings: Settings, database_url: str, pool_size: int = 4) -> Services:
    db = Database(database_url, size=pool_size)
    clock: Clock = SandboxClock(db) if settings.sandbox else SystemClock()
    # A malformed RECUR_MASTER_KEY stops the process here, at start; an unset one only where a secret is sealed or opened.
    master_key = MasterKey.from_setting(settings.master_key) if settings.master_key else None
    events = open_event_store(database_url, pool_size, master_key=master_key, db=db)
    return Services(settings, events, db, clock, build_gateway(settings, db), master_key)


def open_events(settings: Settings, database_url: str, pool_size: int = 2) -> RecurEvents:
    """The event store as a process that reads every event needs it (the relay, a rebuild): with the keys to subscribers'
    personal data. A missing master key, or another than the one the database was started with, raises MasterKeyError
    here, at start, rather than garbage or nulls later."""
    master_key = MasterKey.from_setting(settings.master_key)
    events = open_event_store(database_url, pool_size, master_key=master_key)
    try:
        assert events.keys is not None
        check_master_key(events.keys.db, master_key)
    except BaseException:
        events.close()
        raise
    return events


def build_gateway(settings: Settings, db: Database) -> PaymentGateway:
    """RECUR_GATEWAY's adapter: the sandbox (test cards, its state in PostgreSQL) or Stripe (settings checked the key)."""
    if settings.gateway == "stripe":
        from recur.gateways.stripe import StripeGateway

        assert settings.stripe_api_key, "Settings.from_env refuses stripe without a key"
        if not settings.stripe_webhook_secret:
            log.warning("RECUR_STRIPE_WEBHOOK_SECRET is not set: POST /v1/gateway-events/stripe refuses every event, so refunds "
                        "and disputes made in Stripe's dashboard are not recorded")
        return StripeGateway(db, settings.stripe_api_key, settings.stripe_api_base, settings.stripe_webhook_secret)
    from recur.gateways.sandbox import SandboxGateway

    return SandboxGateway(db, latency_ms=settings.sandbox_gateway_latency_ms)
