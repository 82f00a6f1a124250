"""`recur up`: start what is not external, then the API, relay, consumer, notifier, webhooks worker and scheduler as
separate processes; write runtime.json once all are ready; stop everything on Ctrl-C/SIGTERM.

The master key (RECUR_MASTER_KEY, which seals webhook signing secrets) comes from the environment or, when unset, from
`<data dir>/master.key`, made on first start (mode 0600) with a warning to back it up; it is checked against the database
before anything else starts, and handed to the children in their environment.

Without RECUR_SMTP_URL the local SMTP sink (recur.embedded.smtp_sink) runs in this process, started once the
database is migrated (it writes to `sandbox_mailbox`) and stopped after the workers that send to it."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from recur import readiness
from recur.migrations import migrate
from recur.notifications.smtp import parse_smtp_url
from recur.sealing import MasterKey, check_master_key, generate_master_key
from recur.settings import Settings

log = logging.getLogger("recur.up")
PR_SET_PDEATHSIG = 1
WORKERS = ["relay", "consumer", "notifier", "webhooks", "scheduler"]
MASTER_KEY_FILE = "master.key"
MAX_RESTARTS_PER_MINUTE = 5


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor dies, even by SIGKILL: no orphans."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Stack:
    settings: Settings
    api_workers: int = 3
    scheduler_processes: int = 1  # they share each renewal run through billing claims (recur.billing_claims)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)
    restarts: dict[str, list[float]] = field(default_factory=dict)
    postgres: object | None = None
    broker: object | None = None
    smtp_sink: object | None = None
    stopping: bool = False

    # ---------------------------------------------------------- infrastructure
    def start_infrastructure(self) -> Settings:
        from recur import embedded

        # Before anything starts: a URL that cannot work, and servers the production image does not have.
        if self.settings.smtp_url:
            parse_smtp_url(self.settings.smtp_url)
        embedded.require(postgres=not self.settings.database_url, broker=not self.settings.kafka_bootstrap_servers,
                         smtp_sink=not self.settings.smtp_url)
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = self.settings
        if not settings.database_url:
            from recur.embedded.postgres import create_database, start_embedded_postgres

            pg = start_embedded_postgres(data_dir / "pg")
            self.postgres = pg
            settings = settings.with_(database_url=create_database(pg.url, "recur"))
            log.info("embedded PostgreSQL at %s (data in %s)", settings.database_url, data_dir / "pg")
        else:
            log.info("PostgreSQL at %s", _redact(settings.database_url))
        if not settings.kafka_bootstrap_servers:
            from recur.embedded.broker import start_embedded_broker

            broker = start_embedded_broker(log_path=data_dir / "broker.log")
            self.broker = broker
            settings = settings.with_(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_embedded=True)
            log.info("embedded Kafka-protocol broker (tansu, memory only) at %s", broker.bootstrap_servers)
        else:
            log.info("Kafka at %s", settings.kafka_bootstrap_servers)
        assert settings.database_url and settings.kafka_bootstrap_servers
        applied = migrate(settings.database_url)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        settings = self.master_key(settings)
        from recur.commands.event_store import open_event_store
        from recur.consumers.topic_admin import ensure_topics
        from recur.contract.topics import PARTITIONS, PROVISIONED

        open_event_store(settings.database_url, 1, create_table=True).close()  # creates the event table once, before the workers race to
        self.warn_of_plain_personal_data(settings.database_url)
        ensure_topics(settings.kafka_bootstrap_servers, PROVISIONED, PARTITIONS)
        settings = self.start_mail(settings)
        self.settings = settings
        return settings

    def master_key(self, settings: Settings) -> Settings:
        """RECUR_MASTER_KEY, or the data dir's own key (made once), checked against what the database sealed before."""
        assert settings.database_url
        if not settings.master_key:
            path = settings.data_dir / MASTER_KEY_FILE
            if not path.exists():
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as file:
                    file.write(generate_master_key() + "\n")
                log.warning("RECUR_MASTER_KEY is not set: made a master key in %s (mode 0600). Back it up with the database: "
                            "without it the webhook signing secrets sealed under it cannot be read", path)
            settings = settings.with_(master_key=path.read_text().strip())
            log.info("master key from %s", path)
        from recur.db import Database

        db = Database(settings.database_url, 1)
        try:
            check_master_key(db, MasterKey.from_setting(settings.master_key))
        finally:
            db.close()
        return settings

    def warn_of_plain_personal_data(self, database_url: str) -> None:
        """Once per start: events stored before encryption that still hold personal data in plain (read up to the bound
        migration 017 found, so free once `recur audit encrypt-legacy` has run)."""
        from recur.commands.legacy_personal_data import legacy_warning
        from recur.db import Database

        db = Database(database_url, 1)
        try:
            warning = legacy_warning(db)
        finally:
            db.close()
        if warning:
            log.warning("%s", warning)

    def start_mail(self, settings: Settings) -> Settings:
        """The SMTP server the workers send to: RECUR_SMTP_URL's, or a local sink writing to the sandbox mailbox."""
        if settings.smtp_url:
            log.info("SMTP at %s", parse_smtp_url(settings.smtp_url).redacted_url)
            return settings
        from recur.embedded.smtp_sink import start_smtp_sink

        assert settings.database_url
        sink = start_smtp_sink(settings.database_url)
        self.smtp_sink = sink
        log.info("local SMTP sink at %s; the sandbox outbox lists what it receives", sink.url)
        return settings.with_(smtp_url=sink.url)

    # --------------------------------------------------------------- processes
    def spawn(self, name: str, argv: list[str]) -> None:
        self.argv[name] = argv
        env = {**os.environ, **self.settings.as_env(), "PYTHONUNBUFFERED": "1"}
        self.children[name] = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        log.info("started %s (pid %d)", name, self.children[name].pid)

    def start_processes(self) -> None:
        readiness.reset(self.settings)
        # gunicorn workers each count requests; prometheus-client sums their files at scrape time.
        # Cleared only here, not when a crashed API is restarted, so totals survive restarts.
        metrics_dir = self.settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        py = sys.executable
        self.spawn(
            "api",
            [
                py,
                "-m",
                "gunicorn",
                "--workers",
                str(self.api_workers),
                "--bind",
                f"127.0.0.1:{self.settings.port}",
                "--worker-class",
                "recur.http.gunicorn_worker.ProblemJsonThreadWorker",  # gthread, with gunicorn's own errors as problem+json
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
                "--access-logfile",
                "-",
                "--access-logformat",
                'api %(h)s "%(m)s %(U)s" %(s)s %(L)ss',  # the path without its query: no secret a client put there is logged
                "--no-control-socket",
                "recur.http.wsgi:create()",
            ],
        )
        self.spawn("relay", [py, "-m", "recur.cli", "worker", "relay"])
        self.spawn("consumer", [py, "-m", "recur.cli", "worker", "consumer"])
        self.spawn("notifier", [py, "-m", "recur.cli", "worker", "notifier"])
        self.spawn("webhooks", [py, "-m", "recur.cli", "worker", "webhooks"])
        for number in range(1, self.scheduler_processes + 1):
            self.spawn("scheduler" if number == 1 else f"scheduler-{number}", [py, "-m", "recur.cli", "worker", "scheduler"])

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.settings.port}/readyz"
        while time.monotonic() < deadline:
            self.check_children()
            if readiness.missing(self.settings, WORKERS):
                time.sleep(0.1)
                continue
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        waiting = readiness.missing(self.settings, WORKERS) or ["the API at " + url]
        raise TimeoutError(f"not ready within {timeout:.0f}s: {', '.join(waiting)}")

    def check_children(self) -> None:
        """Restart a process that died (a crash, or the relay's watchdog); give up if one keeps dying."""
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is None or self.stopping:
                continue
            now = time.monotonic()
            recent = [t for t in self.restarts.get(name, []) if now - t < 60]
            if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                raise RuntimeError(f"{name} exited with code {code} {len(recent)} times in a minute; see its log lines above")
            self.restarts[name] = [*recent, now]
            log.warning("%s exited with code %s; restarting it", name, code)
            self.spawn(name, self.argv[name])

    def write_runtime(self) -> Path:
        path = self.settings.data_dir / "runtime.json"
        runtime = {
            "api_url": f"http://127.0.0.1:{self.settings.port}",
            "database_url": self.settings.database_url,
            "kafka_bootstrap_servers": self.settings.kafka_bootstrap_servers,
            "smtp_url": parse_smtp_url(self.settings.smtp_url).redacted_url if self.settings.smtp_url else None,
            "pid": os.getpid(),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(runtime, indent=2))
        tmp.replace(path)
        return path

    def stop(self) -> None:
        self.stopping = True
        (self.settings.data_dir / "runtime.json").unlink(missing_ok=True)
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in self.children.items():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in 10s; killing it", name)
                child.kill()
                child.wait()
        if self.smtp_sink is not None:
            self.smtp_sink.stop()  # type: ignore[attr-defined]
            log.info("stopped the local SMTP sink")
        if self.broker is not None:
            self.broker.stop()  # type: ignore[attr-defined]
            log.info("stopped the embedded broker")
        if self.postgres is not None:
            self.postgres.stop()  # type: ignore[attr-defined]
            log.info("stopped embedded PostgreSQL")


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def up(settings: Settings, api_workers: int = 3, scheduler_processes: int = 1) -> int:
    stack = Stack(settings, api_workers=api_workers, scheduler_processes=scheduler_processes)
    stop_requested = {"signal": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        stack.start_infrastructure()
        stack.start_processes()
        stack.wait_ready()
        path = stack.write_runtime()
        log.info("recur is up: API at http://127.0.0.1:%d (runtime in %s); Ctrl-C stops it", stack.settings.port, path)
        while not stop_requested["signal"]:
            stack.check_children()
            time.sleep(0.2)
        log.info("stopping (signal %d)", stop_requested["signal"])
    except Exception as error:  # noqa: BLE001 - report, stop what we started, exit non-zero
        log.error("recur up failed: %s", error)
        code = 1
    finally:
        stack.stop()
    return code
