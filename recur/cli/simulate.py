"""`recur simulate`: months of a subscription business in seconds, through the real commands, on the sandbox clock.

It talks to the database directly, as `recur bill` does, and needs a running `recur up` (whose consumers keep the read
models the clock advance waits for): with RECUR_DATABASE_URL unset it reads the database from `recur up`'s runtime.json.
After `make run`, in another shell: `RECUR_SANDBOX=1 .venv/bin/recur simulate --subscribers 500 --months 6 --seed 1`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from recur import logs
from recur.settings import Settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    runtime = settings.data_dir / "runtime.json"
    if not runtime.exists():
        raise click.UsageError(f"RECUR_DATABASE_URL is not set and {runtime} does not exist: start `make run` (recur up) first")
    return str(json.loads(runtime.read_text(encoding="utf-8"))["database_url"])


def money(amount: int) -> str:
    return f"BRL {amount / 100:,.2f}"


def render(summary: Any) -> list[str]:
    lines = [
        f"simulated {summary.subscribers} subscribers from {summary.start.date()} to {summary.end.date()}",
        f"revenue: {money(summary.revenue)} in {summary.charges_paid} paid charges",
        f"recovered by retries: {money(summary.recovered_by_retries)}",
        f"dashboard from {summary.measured_from.date()} to {summary.end.date()} (GET /v1/dashboards/cancellations):",
    ]
    for figures in summary.producers:
        lines.append(f"  producer {figures.producer_id}: {figures.cancellations} cancellations "
                     f"(customer {figures.by_origin.get('customer', 0)}, seller {figures.by_origin.get('seller', 0)}, "
                     f"admin {figures.by_origin.get('admin', 0)}), cancellation rate {figures.cancellation_rate:.2%}, "
                     f"LTV {money(figures.ltv['amount'])}, lifetime {figures.lt_months} months")
    return lines


@click.command(help="Simulate months of subscribers (sign-ups, renewals, refusals, changes, cancellations) in the sandbox.")
@click.option("--subscribers", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--months", type=click.IntRange(1, 60), default=6, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed plays the same story.")
@click.option("--producers", type=click.IntRange(1, 1000), default=1, show_default=True)
def simulate(subscribers: int, months: int, seed: int, producers: int) -> None:
    logs.configure_logging("simulate")
    settings = Settings.from_env()
    if not settings.sandbox:
        raise click.UsageError("recur simulate moves the sandbox clock: set RECUR_SANDBOX=1 (and run recur up with it)")
    from recur.bootstrap import build_services
    from recur.simulation.run import simulate as play
    from recur.simulation.story import write_story

    url = database_url(settings)
    from recur.supervisor import MASTER_KEY_FILE

    key_file = settings.data_dir / MASTER_KEY_FILE  # where `recur up` keeps the key it made when RECUR_MASTER_KEY was unset
    if not settings.master_key and key_file.exists():
        settings = settings.with_(master_key=key_file.read_text().strip())
    services = build_services(settings, url, pool_size=4)
    if not hasattr(services.gateway, "queue_outcomes"):  # the port, not the adapter: only a sandbox queues outcomes
        services.close()
        raise click.UsageError("recur simulate needs the sandbox gateway (RECUR_GATEWAY=sandbox): its cards' outcome queues")
    story = write_story(seed, subscribers, months, producers)
    try:
        with click.progressbar(length=story.days, label="simulating days") as bar:
            summary = play(services, story, services.gateway, progress=bar.update)
    finally:
        services.close()
    for line in render(summary):
        click.echo(line)
