"""Settings, read once from the environment into one object (never at import time)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    kafka_bootstrap_servers: str | None
    admin_token: str
    sandbox: bool
    smtp_url: str | None
    port: int
    data_dir: Path
    # The broker is the embedded, memory-only one `recur up` started: only then may the relay delete and
    # recreate topics (on a real cluster that would erase downstream consumers' history).
    kafka_embedded: bool = False
    # The envelope and From address of every message; subscriber mail shows the producer's name beside it.
    mail_from: str = "recur <no-reply@recur.localhost>"
    # Base64 of 32 bytes: seals the secrets recur must use again (webhook signing secrets; recur.sealing).
    # Never in a repr: settings may be printed while debugging.
    master_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("RECUR_DATABASE_URL") or None,
            kafka_bootstrap_servers=env.get("RECUR_KAFKA_BOOTSTRAP_SERVERS") or None,
            admin_token=env.get("RECUR_ADMIN_TOKEN") or "",
            sandbox=env.get("RECUR_SANDBOX", "").lower() in ("1", "true", "yes", "on"),
            smtp_url=env.get("RECUR_SMTP_URL") or None,
            port=int(env.get("RECUR_PORT") or 8000),
            data_dir=Path(env.get("RECUR_DATA_DIR") or ".recur").resolve(),
            kafka_embedded=env.get("RECUR_KAFKA_EMBEDDED", "") == "1",
            mail_from=env.get("RECUR_MAIL_FROM") or cls.mail_from,
            master_key=env.get("RECUR_MASTER_KEY") or None,
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_env(self) -> dict[str, str]:
        """The environment that gives child processes exactly these settings."""
        env = {
            "RECUR_ADMIN_TOKEN": self.admin_token,
            "RECUR_SANDBOX": "1" if self.sandbox else "0",
            "RECUR_PORT": str(self.port),
            "RECUR_DATA_DIR": str(self.data_dir),
        }
        if self.database_url:
            env["RECUR_DATABASE_URL"] = self.database_url
        if self.kafka_bootstrap_servers:
            env["RECUR_KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap_servers
        env["RECUR_KAFKA_EMBEDDED"] = "1" if self.kafka_embedded else "0"
        if self.smtp_url:
            env["RECUR_SMTP_URL"] = self.smtp_url
        env["RECUR_MAIL_FROM"] = self.mail_from
        if self.master_key:
            env["RECUR_MASTER_KEY"] = self.master_key
        return env


def generate_admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(24)
