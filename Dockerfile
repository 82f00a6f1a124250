# recur: one image for every service (API, relay, consumer, scheduler, migrate).
# The default command serves the HTTP API under gunicorn; docker-compose.yml runs the workers
# from the same image with `recur worker relay|consumer|scheduler` and `recur migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq5: the event store's driver (psycopg 3, installed without its binary extra) loads the
# system libpq at run time; the slim image does not ship it. psycopg2-binary brings its own.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

# Non-root user; its home is recur's data dir (workers leave readiness markers in <data dir>/ready).
RUN groupadd --system --gid 10001 recur \
    && useradd --system --uid 10001 --gid recur --home-dir /var/lib/recur --create-home \
       --shell /usr/sbin/nologin recur

WORKDIR /src
COPY pyproject.toml ./
COPY recur ./recur
RUN pip install . \
    && rm -rf /src

ENV RECUR_DATA_DIR=/var/lib/recur \
    RECUR_PORT=8000
WORKDIR /var/lib/recur
USER recur:recur

EXPOSE 8000

# SIGTERM lets gunicorn finish in-flight requests; the workers also stop cleanly on it.
STOPSIGNAL SIGTERM
CMD ["gunicorn", "--workers", "4", "--worker-class", "recur.http.gunicorn_worker.ProblemJsonThreadWorker", "--threads", "4", "--bind", "0.0.0.0:8000", "recur.http.wsgi:create()"]
