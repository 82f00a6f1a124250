"""An in-process recur for integration tests: real PostgreSQL and broker, the relay, the projection consumer,
the notifier and the e-mail sender, the webhooks consumer group and its deliverer in background threads, a real
SMTP server (aiosmtpd) receiving the mail, and the Flask app driven through its test client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner, Result
from mail_server import MailServer
from workers_in_threads import start_workers

from recur.bootstrap import build_services
from recur.commands.services import Services
from recur.settings import Settings

ADMIN = "adm_integration"


@dataclass
class Running:
    services: Services
    client: Any
    mail: MailServer
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def as_admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}

    def caught_up(self, timeout: float = 20.0) -> None:
        from recur.projections.lag import wait_until_caught_up

        wait_until_caught_up(self.services.db, timeout=timeout)


@pytest.fixture(scope="session")
def recur(database_url: str, broker: Any) -> Iterator[Running]:
    from recur import deadlines
    from recur.http.app import create_app
    from recur.sealing import generate_master_key

    deadlines.install()  # as the API's WSGI entry point does, before the event store's pool is built

    settings = Settings.from_env(
        {
            "RECUR_DATABASE_URL": database_url,
            "RECUR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "RECUR_ADMIN_TOKEN": ADMIN,
            "RECUR_SANDBOX": "1",
            "RECUR_MASTER_KEY": generate_master_key(),
        }
    )
    services = build_services(settings, database_url, pool_size=4)
    app = create_app(services)
    mail = MailServer().start()
    running = Running(services, app.test_client(), mail)
    running.threads = start_workers(settings, mail.url, running.stop)
    yield running
    running.stop.set()
    for t in running.threads:
        t.join(timeout=10)
    mail.stop()
    services.close()


@pytest.fixture
def recur_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """The `recur` command run in this process (so code patched by a test is what it runs), without letting
    it reconfigure this process's logging."""
    from recur.cli import main

    monkeypatch.setattr("recur.logs.configure_logging", lambda *args, **kwargs: None)

    def run(*args: str, env: dict[str, str]) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return run


@pytest.fixture
def api(recur: Running) -> Any:
    """The API as an anonymous client sees it, through the in-process app."""
    from recur_api import Api, flask_call

    return Api(flask_call(recur.client))


@pytest.fixture
def admin(api: Any) -> Any:
    """The API as the platform admin."""
    return api.as_(ADMIN)


@pytest.fixture
def producer(api: Any) -> Any:
    """A new producer, signed in with its api_key."""
    return api.new_producer(ADMIN)


@pytest.fixture(scope="module")
def read_models_of_its_own(postgres_server: Any) -> Iterator[Any]:
    """A migrated database for the module alone, for tests that write read-model rows directly, with no events behind
    them: in the session's database, the tests that rebuild the read models from the events would find those rows."""
    import uuid

    from recur.db import Database, migrate
    from recur.embedded.postgres import create_database

    url = create_database(postgres_server.url, f"recur_read_models_{uuid.uuid4().hex[:10]}")
    migrate(url)
    db = Database(url, 1)
    yield db
    db.close()
