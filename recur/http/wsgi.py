"""Entry point for the production WSGI server: `gunicorn 'recur.http.wsgi:create()'`.

Each worker builds its own services after the fork (pools must not cross processes).
"""

from __future__ import annotations

from flask import Flask

from recur.bootstrap import build_services
from recur.logs import configure_logging
from recur.settings import Settings, SettingsError


def create() -> Flask:
    configure_logging("api")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise SystemExit(str(error)) from None
    if not settings.database_url:
        raise SystemExit("RECUR_DATABASE_URL is not set: start recur with `recur up`, which sets it")
    from recur import deadlines
    from recur.http.app import create_app

    deadlines.install()  # before the event store's pool is built: its connections must honour request deadlines
    services = build_services(settings, settings.database_url, pool_size=4)
    from recur.sealing import MasterKeyError, check_master_key

    try:  # the API seals webhook signing secrets: without the master key, or with another one, it does not start
        check_master_key(services.db, services.require_master_key())
    except MasterKeyError as error:
        raise SystemExit(f"recur API: {error}") from None
    return create_app(services)
