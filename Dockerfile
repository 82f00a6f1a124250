# recur: one image for every service (API, relay, consumer, scheduler, migrate), installed from
# requirements.lock: without the embedded PostgreSQL and broker (`recur up` in it needs RECUR_DATABASE_URL and
# RECUR_KAFKA_BOOTSTRAP_SERVERS) and without the test tools.
# The default command serves the HTTP API under gunicorn; docker-compose.yml runs the workers
# from the same image with `recur worker relay|consumer|scheduler` and `recur migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq5: psycopg 3 and psycopg2 use the libpq of their binary wheels (psycopg-binary, psycopg2-binary,
# both in requirements.lock); the system one is there for psycopg's pure-Python fallback (PSYCOPG_IMPL=python).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

# Non-root user; its home is recur's data dir (workers leave readiness markers in <data dir>/ready).
RUN groupadd --system --gid 10001 recur \
    && useradd --system --uid 10001 --gid recur --home-dir /var/lib/recur --create-home \
       --shell /usr/sbin/nologin recur

# Dependencies from requirements.lock: the runtime ones only (not the embedded servers of `make run` and
# the tests, not the dev tools), exact versions, each file checked against its hash, wheels only. A layer of
# its own, rebuilt only when the lock changes. Then recur itself, built with the locked setuptools
# (--no-build-isolation: no unpinned build tool fetched) and without dependencies (the lock has them all).
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml ./
COPY recur ./recur
RUN pip install --no-deps --no-build-isolation . \
    && pip check \
    && rm -rf /src

ENV RECUR_DATA_DIR=/var/lib/recur \
    RECUR_PORT=8000
WORKDIR /var/lib/recur
USER recur:recur

EXPOSE 8000

# SIGTERM lets gunicorn finish in-flight requests; the workers also stop cleanly on it.
STOPSIGNAL SIGTERM
CMD ["gunicorn", "--workers", "4", "--worker-class", "recur.http.gunicorn_worker.ProblemJsonThreadWorker", "--threads", "4", "--bind", "0.0.0.0:8000", "recur.http.wsgi:create()"]
