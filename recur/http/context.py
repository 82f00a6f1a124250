"""The services the app was built with, for the request being served."""

from __future__ import annotations

from flask import current_app

from recur.commands.services import Services

EXTENSION = "recur"


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION]
    return found
