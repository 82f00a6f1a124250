"""RECUR_SANDBOX_GATEWAY_LATENCY_MS: each sandbox gateway call waits as long as a real gateway's round trip would,
before it touches the sandbox's books. The waits are recorded through the adapter's `pause`, never timed."""

from __future__ import annotations

from typing import Any

from recur.gateways.sandbox import SandboxGateway


def test_every_sandbox_gateway_call_waits_the_configured_latency_once(recur: Any) -> None:
    waits: list[float] = []
    gateway = SandboxGateway(recur.services.db, latency_ms=250, pause=waits.append)

    card = gateway.tokenize("4242424242424242", 12, 2040)
    charge = gateway.charge_card("latency-test-" + card.token, card.token, 4990, "BRL", subscription_id="s")
    gateway.refund("latency-refund-" + card.token, charge.charge_id, 1000, "BRL")

    assert charge.approved
    assert waits == [0.25, 0.25, 0.25]


def test_without_a_latency_the_sandbox_never_waits(recur: Any) -> None:
    waits: list[float] = []
    gateway = SandboxGateway(recur.services.db, pause=waits.append)

    card = gateway.tokenize("4242424242424242", 12, 2040)
    gateway.charge_card("no-latency-" + card.token, card.token, 4990, "BRL", subscription_id="s")

    assert waits == []
