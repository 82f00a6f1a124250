"""The settings of a billing run at scale: the sandbox gateway's simulated latency and how many gateway calls a run
keeps in flight. A value that cannot work is refused when recur starts, not at the first charge."""

from __future__ import annotations

import pytest

from recur.settings import Settings, SettingsError


def test_the_sandbox_answers_at_once_and_a_run_keeps_64_calls_in_flight_unless_told_otherwise() -> None:
    settings = Settings.from_env({})

    assert (settings.sandbox_gateway_latency_ms, settings.gateway_concurrency) == (0, 64)


def test_a_latency_and_a_concurrency_given_reach_child_processes() -> None:
    settings = Settings.from_env({"RECUR_SANDBOX_GATEWAY_LATENCY_MS": "200", "RECUR_GATEWAY_CONCURRENCY": "16"})

    again = Settings.from_env(settings.as_env())

    assert (again.sandbox_gateway_latency_ms, again.gateway_concurrency) == (200, 16)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("RECUR_SANDBOX_GATEWAY_LATENCY_MS", "-5", "at least 0"),
    ("RECUR_SANDBOX_GATEWAY_LATENCY_MS", "200ms", "whole number"),
    ("RECUR_GATEWAY_CONCURRENCY", "0", "at least 1"),
])
def test_a_latency_or_concurrency_that_cannot_work_is_refused_by_name(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}.*{says}"):
        Settings.from_env({name: value})
