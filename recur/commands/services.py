"""The ports a command handler needs, built once per process by a factory."""

from __future__ import annotations

from dataclasses import dataclass

from recur.commands.app import RecurEvents, open_event_store
from recur.commands.clock import Clock, SandboxClock, SystemClock
from recur.commands.sandbox_gateway import SandboxGateway
from recur.db import Database
from recur.settings import Settings


@dataclass
class Services:
    settings: Settings
    events: RecurEvents
    db: Database
    clock: Clock
    gateway: SandboxGateway

    def close(self) -> None:
        self.events.close()
        self.db.close()


def build_services(settings: Settings, database_url: str, pool_size: int = 4) -> Services:
    """Wire the ports. The sandbox gateway is the only gateway recur ships today; a real
    provider's adapter implements the same port (recur.commands.gateway.PaymentGateway)."""
    db = Database(database_url, size=pool_size)
    clock: Clock = SandboxClock(db) if settings.sandbox else SystemClock()
    return Services(settings, open_event_store(database_url, pool_size), db, clock, SandboxGateway(db))
