"""The ports a command handler needs. Which adapters fill them is decided once, in recur.bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from recur.commands.clock import Clock
from recur.commands.event_store import RecurEvents
from recur.commands.gateway import PaymentGateway
from recur.db import Database
from recur.settings import Settings


@dataclass
class Services:
    settings: Settings
    events: RecurEvents
    db: Database
    clock: Clock
    gateway: PaymentGateway

    def close(self) -> None:
        self.events.close()
        self.db.close()
