"""The ports a command handler needs. Which adapters fill them is decided once, in recur.bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from recur.commands.clock import Clock
from recur.commands.event_store import RecurEvents
from recur.commands.gateway import PaymentGateway
from recur.db import Database
from recur.sealing import MasterKey
from recur.settings import Settings


@dataclass
class Services:
    settings: Settings
    events: RecurEvents
    db: Database
    clock: Clock
    gateway: PaymentGateway
    master_key: MasterKey | None = None  # None when RECUR_MASTER_KEY is unset: what needs it says so

    def require_master_key(self) -> MasterKey:
        """The master key, or a clear error naming the setting (a process that needs it checks at start)."""
        return self.master_key or MasterKey.from_setting(None)  # unset: raises MasterKeyError saying what to set

    def close(self) -> None:
        self.events.close()
        self.db.close()
