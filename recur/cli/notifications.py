"""`recur notifications status`: what the e-mail outbox holds, and why a message was refused."""

from __future__ import annotations

import click

from recur import logs
from recur.cli.environment import database_url

STUCK_AFTER_SECONDS = 3600


@click.group(help="E-mail to subscribers and producers: the outbox recur sends from.")
def notifications() -> None:
    pass


@notifications.command(help="Messages by kind and status (pending: waiting for the SMTP server, which may have refused them "
                       "for now and is asked again later; sent; failed: refused for good, e.g. a 5xx or an address the "
                       "server rejects), the age of the oldest pending one and the latest permanent failures with the "
                       f"server's reason. Exit code 1 when a message has waited more than {STUCK_AFTER_SECONDS // 60} "
                       "minutes (the SMTP server is down or refusing), else 0.")
@click.option("--failures", type=click.IntRange(0, 1000), default=10, show_default=True, help="Latest permanent failures shown.")
def status(failures: int) -> None:
    logs.configure_logging("notifications", "WARNING")
    from recur.db import Database
    from recur.notifications.outbox import KINDS, STATUSES
    from recur.notifications.outbox import status as outbox_status

    db = Database(database_url(), 1)
    try:
        outbox = outbox_status(db, failures)
    finally:
        db.close()
    click.echo(f"{'kind':<20}" + "".join(f"{state:>10}" for state in STATUSES))
    for kind in KINDS:
        click.echo(f"{kind:<20}" + "".join(f"{outbox.counts.get((kind, state), 0):>10}" for state in STATUSES))
    click.echo(f"\noldest pending: {outbox.oldest_pending_seconds:.0f}s" if outbox.total("pending") else "\nnothing pending")
    if outbox.recent_failures:
        click.echo(f"\nlatest of {outbox.total('failed')} message(s) refused for good:")
        for outbox_id, kind, error, at in outbox.recent_failures:
            click.echo(f"  #{outbox_id} {kind} at {at:%Y-%m-%d %H:%M:%S}: {error[:200]}")
    if outbox.oldest_pending_seconds > STUCK_AFTER_SECONDS:
        click.echo(f"mail has waited more than {STUCK_AFTER_SECONDS // 60} minutes: is RECUR_SMTP_URL reachable? "
                   "(the notifier's log says what the server answers)", err=True)
        raise SystemExit(1)
