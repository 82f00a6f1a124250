"""Settings, read once from the environment into one object (never at import time)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

GATEWAYS = ("sandbox", "stripe")
STRIPE_API_BASE = "https://api.stripe.com"


class SettingsError(ValueError):
    """A setting that cannot work: recur refuses to start with it rather than fail at the first charge."""


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
    # Which payment gateway adapter recur.bootstrap builds: the sandbox's test cards, or Stripe.
    gateway: str = "sandbox"
    # Secrets are kept out of repr(): a settings object that lands in a log line must not carry them.
    stripe_api_key: str | None = field(default=None, repr=False)
    # Where the Stripe SDK sends its requests: Stripe's own API unless a test points it at a local server.
    stripe_api_base: str = STRIPE_API_BASE
    # Signs the events Stripe posts to /v1/gateway-events/stripe (the endpoint's `whsec_...`).
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    # Base64 of 32 bytes: seals the secrets recur must use again (webhook signing secrets; recur.sealing).
    # Never in a repr: settings may be printed while debugging.
    master_key: str | None = field(default=None, repr=False)
    # Each sandbox gateway call waits this long, as a real gateway's round trip does (200-800 ms): the billing
    # run's overlap of gateway calls can then be seen and measured without a real gateway.
    sandbox_gateway_latency_ms: int = 0
    # Gateway calls a billing run keeps in flight at once (a gateway adapter may allow fewer: see its
    # `max_in_flight`). Bounded, so a run never opens more connections than the gateway and the database take.
    gateway_concurrency: int = 64

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
            gateway=checked_gateway(env),
            stripe_api_key=env.get("RECUR_STRIPE_API_KEY") or None,
            stripe_api_base=(env.get("RECUR_STRIPE_API_BASE") or STRIPE_API_BASE).rstrip("/"),
            stripe_webhook_secret=env.get("RECUR_STRIPE_WEBHOOK_SECRET") or None,
            master_key=env.get("RECUR_MASTER_KEY") or None,
            sandbox_gateway_latency_ms=whole_number(env, "RECUR_SANDBOX_GATEWAY_LATENCY_MS", 0, minimum=0),
            gateway_concurrency=whole_number(env, "RECUR_GATEWAY_CONCURRENCY", 64, minimum=1),
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
        env["RECUR_GATEWAY"] = self.gateway
        env["RECUR_STRIPE_API_BASE"] = self.stripe_api_base
        env["RECUR_SANDBOX_GATEWAY_LATENCY_MS"] = str(self.sandbox_gateway_latency_ms)
        env["RECUR_GATEWAY_CONCURRENCY"] = str(self.gateway_concurrency)
        if self.stripe_api_key:
            env["RECUR_STRIPE_API_KEY"] = self.stripe_api_key
        if self.stripe_webhook_secret:
            env["RECUR_STRIPE_WEBHOOK_SECRET"] = self.stripe_webhook_secret
        if self.master_key:
            env["RECUR_MASTER_KEY"] = self.master_key
        return env


def checked_gateway(env: dict[str, str]) -> str:
    """RECUR_GATEWAY, refused at once when it cannot work: a recur started with stripe and no key would take
    subscriptions and then fail at every charge."""
    gateway = (env.get("RECUR_GATEWAY") or "sandbox").strip().lower()
    if gateway not in GATEWAYS:
        raise SettingsError(f"RECUR_GATEWAY must be one of {', '.join(GATEWAYS)}, not {gateway!r}")
    if gateway == "stripe" and not env.get("RECUR_STRIPE_API_KEY"):
        raise SettingsError("RECUR_GATEWAY=stripe needs RECUR_STRIPE_API_KEY: the secret key (sk_live_..., or sk_test_... "
                            "in Stripe's test mode) or a restricted key (rk_...) from the Stripe dashboard")
    return gateway


def whole_number(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    """An integer setting, refused at start when it is not one or is below `minimum` (a typo must not silently
    mean "no latency" or "no gateway calls at all")."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def generate_admin_token() -> str:
    return "adm_" + secrets.token_urlsafe(24)
