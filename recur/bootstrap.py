"""Where the adapters are chosen, once per process: the API, each worker, the CLI and the tests build their
services here, and nothing below (commands, projections, consumers) knows which adapter it got."""

from __future__ import annotations

from recur.commands.clock import Clock, SandboxClock, SystemClock
from recur.commands.event_store import open_event_store
from recur.commands.gateway import PaymentGateway
from recur.commands.services import Services
from recur.db import Database
from recur.gateways.sandbox import SandboxGateway
from recur.sealing import MasterKey
from recur.settings import Settings


def build_services(settings: Settings, database_url: str, pool_size: int = 4) -> Services:
    """The sandbox gateway is the only one recur ships today; another provider's adapter implements the same
    port (recur.commands.gateway.PaymentGateway) and is chosen here."""
    db = Database(database_url, size=pool_size)
    clock: Clock = SandboxClock(db) if settings.sandbox else SystemClock()
    gateway: PaymentGateway = SandboxGateway(db)
    # A malformed RECUR_MASTER_KEY stops the process here, at start; an unset one only where a secret is sealed or opened.
    master_key = MasterKey.from_setting(settings.master_key) if settings.master_key else None
    return Services(settings, open_event_store(database_url, pool_size), db, clock, gateway, master_key)
