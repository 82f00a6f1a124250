"""The fault rig: relay and consumers as real processes to kill, and a load of commands to run meanwhile."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recur.commands.services import Services


@dataclass
class Worker:
    role: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen([sys.executable, "-m", "recur.cli", "worker", self.role], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Rig:
    database_url: str
    broker: Any
    services: Services
    data_dir: Path
    master_key: str
    workers: list[Worker] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {**os.environ, "RECUR_DATABASE_URL": self.database_url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                "RECUR_DATA_DIR": str(self.data_dir), "RECUR_SANDBOX": "1", "RECUR_LOG_LEVEL": "INFO",
                "RECUR_KAFKA_EMBEDDED": "1", "RECUR_MASTER_KEY": self.master_key}

    def worker(self, role: str) -> Worker:
        w = Worker(role, self.env(), self.data_dir / f"{role}-{len(self.workers)}.log")
        w.start()
        self.workers.append(w)
        return w

    def revive(self) -> None:
        """Do what `recur up` does for a worker that exited by itself (the relay's watchdog, say)."""
        for w in list(self.workers):
            if w.process is not None and w.process.poll() not in (None, -9):
                self.workers.remove(w)
                self.worker(w.role)

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers.clear()


class Load:
    """Commands from several threads: producers, plans, subscriptions (approved and declined), cancellations."""

    def __init__(self, services: Services, threads: int = 3) -> None:
        self.services = services
        self.threads = threads
        self.done = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def run(self, commands: int) -> None:
        per_thread = commands // self.threads
        pool = [threading.Thread(target=self._work, args=(per_thread, seed)) for seed in range(self.threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert not self.errors, self.errors[:3]

    def _work(self, count: int, seed: int) -> None:
        from recur.commands import catalog, subscriptions
        from recur.domain.actor import system_actor

        rnd = random.Random(seed)
        actor = system_actor()
        s = self.services
        try:
            producer, _ = catalog.register_producer(s, f"P{seed}", "p@example.com", actor)
            product = catalog.create_product(s, str(producer.id), "Course", actor)
            plan = catalog.define_plan(s, str(product.id), None, {"name": "M", "periodicity": "monthly",
                                                                 "price": {"amount": 1000, "currency": "BRL"}}, actor)
            good = s.gateway.tokenize("4242424242424242", 12, 2030).token
            bad = s.gateway.tokenize("4000000000009995", 12, 2030).token
            made = 3
            started: list[str] = []
            while made < count:
                if started and rnd.random() < 0.2:
                    subscriptions.cancel(s, started.pop(rnd.randrange(len(started))), None, "seller", None, "now", actor)
                else:
                    sub, _ = subscriptions.start_subscription(s, None, {
                        "plan_id": str(plan.id), "subscriber": {"name": "B", "email": "b@example.com"},
                        "payment_method": {"type": "card", "card_token": good if rnd.random() < 0.8 else bad}}, actor)
                    started.append(str(sub.id))
                made += 1
                with self._lock:
                    self.done += 1
        except BaseException as error:  # noqa: BLE001 - reported by run()
            import traceback

            traceback.print_exc()
            self.errors.append(error)


def assert_read_models_equal_a_rebuild(rig: Rig, timeout: float = 180.0) -> None:
    from recur.projections.lag import wait_until_caught_up
    from recur.projections.rebuild import differences
    from recur.projections.registry import PROJECTIONS

    deadline = time.monotonic() + timeout
    while True:
        rig.revive()
        try:
            wait_until_caught_up(rig.services.db, timeout=5, consumed=PROJECTIONS)  # the rig runs no notifier
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
    diff = differences(rig.services.db, rig.services.events, list(PROJECTIONS.values()))
    assert set(diff.values()) == {0}, diff
    subs = rig.services.db.fetchone("SELECT count(*) FROM rm_subscriptions")
    started = rig.services.db.fetchone("SELECT count(DISTINCT originator_id) FROM recur_events WHERE topic LIKE %s",
                                       ("%Subscription.SubscriptionStarted",))
    assert subs == started and subs is not None and subs[0] > 0


def wait_until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
