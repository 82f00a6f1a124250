"""`recur webhooks status`: what the deliveries table holds, and why deliveries failed."""

from __future__ import annotations

import click

from recur import logs
from recur.cli.environment import database_url

OVERDUE_AFTER_SECONDS = 600


@click.group(help="Webhooks to producers' endpoints: the deliveries recur sends, signed, and retries.")
def webhooks() -> None:
    pass


@webhooks.command(help="Endpoints by status, deliveries by status (pending: not yet answered 2xx and still to be tried, on "
                  "the retry schedule; succeeded; failed: every attempt failed, or its endpoint was disabled or deleted), the age "
                  "of the oldest pending one and the latest failures with the receiver's answer. Exit code 1 when a delivery has "
                  f"been due for more than {OVERDUE_AFTER_SECONDS // 60} minutes without an attempt (no webhooks worker is "
                  "running, or it cannot keep up), else 0.")
@click.option("--failures", type=click.IntRange(0, 1000), default=10, show_default=True, help="Latest failed deliveries shown.")
def status(failures: int) -> None:
    logs.configure_logging("webhooks", "WARNING")
    from recur.bootstrap import build_services
    from recur.settings import Settings
    from recur.webhooks.deliveries import STATUSES, overdue
    from recur.webhooks.deliveries import status as deliveries_status

    services = build_services(Settings.from_env(), database_url(), pool_size=1)  # the sandbox clock, with RECUR_SANDBOX=1
    try:
        figures = deliveries_status(services.db, failures)
        late = overdue(services.db, services.clock.now(), OVERDUE_AFTER_SECONDS)
    finally:
        services.close()
    click.echo("endpoints: " + ", ".join(f"{figures.endpoints.get(state, 0)} {state}" for state in ("enabled", "disabled")))
    click.echo("deliveries: " + ", ".join(f"{figures.counts.get(state, 0)} {state}" for state in STATUSES))
    click.echo(f"oldest pending: {figures.oldest_pending_seconds:.0f}s" if figures.counts.get("pending") else "nothing pending")
    if figures.recent_failures:
        click.echo(f"\nlatest of {figures.counts.get('failed', 0)} failed deliveries:")
        for delivery_id, endpoint_id, kind, code, error in figures.recent_failures:
            answer = f"answered {code}" if code is not None else "no answer"
            click.echo(f"  #{delivery_id} {kind} to endpoint {endpoint_id} ({answer}): {error[:200]}")
    if late:
        click.echo(f"{late} deliveries have been due for more than {OVERDUE_AFTER_SECONDS // 60} minutes without an attempt: is "
                   "`recur worker webhooks` running?", err=True)
        raise SystemExit(1)

