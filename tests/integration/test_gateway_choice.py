"""RECUR_GATEWAY=stripe without its key stops recur at start, with the reason and a non-zero exit code: `recur up`
before it starts anything, each worker, and the API's WSGI entry point."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

NO_KEY = {"RECUR_GATEWAY": "stripe", "RECUR_STRIPE_API_KEY": "", "RECUR_DATABASE_URL": "postgresql://127.0.0.1:1/none"}


@pytest.mark.parametrize("command", [("up",), ("worker", "scheduler"), ("worker", "relay"), ("bill",), ("migrate",)])
def test_recur_refuses_to_start_with_stripe_and_no_api_key(recur_cli: Callable[..., Result], command: tuple[str, ...]) -> None:
    result = recur_cli(*command, env=NO_KEY)

    assert result.exit_code == 1
    assert "RECUR_GATEWAY=stripe needs RECUR_STRIPE_API_KEY" in result.output


def test_the_api_refuses_to_start_with_stripe_and_no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from recur.http import wsgi

    monkeypatch.setattr(wsgi, "configure_logging", lambda *args, **kwargs: None)
    for name, value in NO_KEY.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit, match="RECUR_STRIPE_API_KEY"):
        wsgi.create()
