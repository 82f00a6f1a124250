"""Requests per second of the HTTP API under gunicorn, as `recur up` runs it.

recur: `GET /v1/subscriptions/{id}` (producer API key: the key's producer and the subscription are
each loaded from the event store) and `POST /v1/subscriptions` (card approved at once: the whole
start_subscription command, with the sandbox clock as `make run` has it), sent by a small load
client: a few threads, each with its own keep-alive connection (http.client), a fixed count each.

baseline: `GET /healthz` on the same server with the same client: the floor set by gunicorn,
Flask, the request-id hooks and the client itself, with no database work.

The server: `gunicorn --workers 2 --worker-class gthread --threads 4` on a loopback port, without
relay, consumer or scheduler (nothing else competes for the two cores but the client).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.harness import ADMIN_TOKEN, DATA, ROOT, Row, Stack, best_of_rounds, main, measure, print_header, print_row, result, scale
from bench.workload import card_tokens, make_catalog, start_body, start_fields

CLIENT_THREADS = 4
WORKERS = 2
BASELINE = "GET /healthz on the same gunicorn with the same client (server + framework floor)"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn serving recur on a loopback port; started and stopped by us."""

    def __init__(self, stack: Stack, database_url: str) -> None:
        self.port = free_port()
        self.log_path = DATA / "gunicorn.log"
        env = {
            **os.environ,
            "RECUR_DATABASE_URL": database_url,
            "RECUR_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
            "RECUR_ADMIN_TOKEN": ADMIN_TOKEN,
            "RECUR_SANDBOX": "1",
            "RECUR_DATA_DIR": str(DATA),
            "RECUR_LOG_LEVEL": "WARNING",
            # The API refuses to start without the key that seals webhook secrets (`recur up` makes one).
            "RECUR_MASTER_KEY": os.environ.get("RECUR_MASTER_KEY") or base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        argv = [
            sys.executable, "-m", "gunicorn",
            "--workers", str(WORKERS), "--worker-class", "gthread", "--threads", "4",
            "--bind", f"127.0.0.1:{self.port}", "--no-control-socket",
            "recur.http.wsgi:create()",
        ]  # fmt: skip
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"gunicorn not ready on port {self.port} within {timeout:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


Request = tuple[str, str, bytes | None, dict[str, str]]


class Client:
    """The load client: one keep-alive connection (http.client) per client thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()
        self.conns: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                self.conns.append(conn)
        return conn

    def sender(self, make: Callable[[int], Request], expect: int) -> Callable[[int], None]:
        """fn(i) sending request i; any other status than `expect` fails the run (an error is not a figure)."""

        def send(i: int) -> None:
            method, path, body, headers = make(i)
            for attempt in (1, 2):
                conn = self.connection()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()  # the server closed an idle keep-alive connection: reconnect once
                    self.local.conn = None
                    if attempt == 2:
                        raise
            if response.status != expect:
                raise AssertionError(f"{method} {path} -> {response.status}, expected {expect}: {data[:300]!r}")

        return send

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


def run(stack: Stack) -> dict[str, Any]:
    from recur.bootstrap import build_services
    from recur.commands.subscriptions import start_subscription
    from recur.domain.actor import Actor

    n_get, n_post, n_health, warmup, readable = scale(3000, 100), scale(600, 40), scale(4000, 100), 100, 200
    url = stack.new_database("http")
    services = build_services(stack.settings(url, sandbox=True), url, pool_size=2)
    try:
        catalog = make_catalog(services)
        tokens = card_tokens(services, readable + warmup + n_post)
        who = Actor(kind="producer", id=catalog.producer_id, request_id="bench")
        ids = [
            str(start_subscription(services, catalog.producer_id, start_fields(catalog.plan_id, tokens[i], i), who)[0].id)
            for i in range(readable)
        ]
    finally:
        services.close()
    auth = {"Authorization": f"Bearer {catalog.api_key}"}
    post_headers = {**auth, "Content-Type": "application/json"}

    def health(i: int) -> Request:
        return "GET", "/healthz", None, {}

    def get(i: int) -> Request:
        return "GET", f"/v1/subscriptions/{ids[i % len(ids)]}", None, auth

    def post(offset: int) -> Callable[[int], Request]:
        def make(i: int) -> Request:
            body = start_body(catalog.plan_id, tokens[offset + i], offset + i)
            return "POST", "/v1/subscriptions", json.dumps(body).encode(), post_headers

        return make

    server = Server(stack, url)
    try:
        server.wait_ready()
        client = Client(server.port)
        try:
            for make, expect in ((health, 200), (get, 200), (post(readable), 201)):
                measure(client.sender(make, expect), warmup, CLIENT_THREADS)
            rates = best_of_rounds(
                {
                    "health": (client.sender(health, 200), n_health),
                    "get": (client.sender(get, 200), n_get),
                    "post": (client.sender(post(readable + warmup), 201), n_post),
                },
                CLIENT_THREADS,
            )
        finally:
            client.close()
    finally:
        server.stop()
    rows = [
        Row(f"GET /v1/subscriptions/{{id}}, {CLIENT_THREADS} client threads", rates["get"], rates["health"]),
        Row(f"POST /v1/subscriptions, {CLIENT_THREADS} client threads", rates["post"], rates["health"]),
    ]
    print_header("http: requests per second against gunicorn (2 workers x 4 threads)", BASELINE)
    for row in rows:
        print_row(row)
    notes = [
        f"{n_get} GETs over {readable} subscriptions, {n_post} POSTs (one new card each), {n_health} GET /healthz, each in 3 "
        "alternating rounds; the best round of each counts. "
        f"{CLIENT_THREADS} client threads in one process (http.client, keep-alive) on the same 2 cores as the server."
    ]
    return result("http", "HTTP API: requests per second (gunicorn gthread, 2 workers x 4 threads)", "requests/s", BASELINE, rows, notes)


if __name__ == "__main__":
    main(run)
