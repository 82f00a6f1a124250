"""`recur projections ...`: rebuild read models, see their lag, deal with dead letters."""

from __future__ import annotations

from typing import Any

import click

from recur import logs
from recur.cli.environment import database_url
from recur.settings import Settings


@click.group(help="Read models: rebuild them from the event store, or see how far behind they are.")
def projections() -> None:
    pass


def _events(url: str, pool_size: int) -> Any:
    """The event store with the keys to subscribers' personal data (a missing or wrong RECUR_MASTER_KEY stops here)."""
    from recur.bootstrap import open_events
    from recur.sealing import MasterKeyError

    try:
        return open_events(Settings.from_env(), url, pool_size)
    except MasterKeyError as error:
        raise click.ClickException(str(error)) from None


@projections.command(help="Rebuild read models from the event store (not from Kafka, whose retention is finite), without "
                     "stopping the API: tables are built aside, then swapped in atomically. NAMES default to all; see "
                     "`recur projections status` for the names. Events that cannot be applied are kept as dead letters, "
                     "as the live consumer keeps them.")
@click.argument("names", nargs=-1)
def rebuild(names: tuple[str, ...]) -> None:
    logs.configure_logging("rebuild", "WARNING")
    from recur.consumers.dead_letters import record_setbacks
    from recur.consumers.runner import GROUP_ID
    from recur.db import Database
    from recur.projections.base import Setback
    from recur.projections.rebuild import build_aside, head, swap_in
    from recur.projections.registry import PROJECTIONS

    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        raise click.BadParameter(f"unknown projection(s) {', '.join(unknown)}; choose from {', '.join(PROJECTIONS)}")
    chosen = [PROJECTIONS[n] for n in (names or tuple(PROJECTIONS))]
    url = database_url()
    db, events = Database(url, 2), _events(url, 2)
    setbacks = 0

    def keep(cur: Any, found: list[Setback]) -> None:
        nonlocal setbacks
        setbacks += len(found)
        record_setbacks(cur, GROUP_ID, found)

    try:
        total = head(db)
        with click.progressbar(length=total, label=f"rebuilding {', '.join(p.name for p in chosen)}", show_pos=True,
                               show_eta=True) as bar:
            schema, built_until = build_aside(db, events, chosen, bar.update, keep)
        swap_in(db, events, chosen, schema, built_until, keep)
        click.echo(f"rebuilt {len(chosen)} projection(s) from {built_until} events and swapped them in")
        if setbacks:
            click.echo(f"{setbacks} event(s) could not be applied and are dead letters: see `recur projections status`", err=True)
    finally:
        db.close()
        events.close()


@projections.command(help="Lag per projection (events behind the event store, seconds since it last applied) and the "
                     "unresolved dead letters: events a projection or the relay could not handle, with their errors.")
def status() -> None:
    logs.configure_logging("status", "WARNING")
    from recur.consumers.dead_letters import RELAY, unresolved, unresolved_counts
    from recur.db import Database
    from recur.projections.lag import lag

    db = Database(database_url(), 1)
    try:
        report = lag(db)
        counts = unresolved_counts(db)
        letters = unresolved(db)
    finally:
        db.close()
    click.echo(f"{'projection':<18}{'events behind':>15}{'seconds behind':>16}{'relay behind':>14}{'dead letters':>14}")
    for name, row in report.items():
        click.echo(f"{name:<18}{row.events_behind:>15}{row.seconds_behind:>16.1f}{row.relay_behind:>14}{counts.get(name, 0):>14}")
    for owner in sorted(set(counts) - set(report)):
        click.echo(f"{owner:<18}{'':>15}{'':>16}{'':>14}{counts[owner]:>14}")
    if not letters:
        return
    click.echo(f"\n{len(letters)} unresolved dead letter(s); after a fix, `recur projections retry-dead` applies them in order:")
    for d in letters[:DEAD_LETTERS_SHOWN]:
        where = f"{d.aggregate_id} v{d.version}" if d.aggregate_id else f"{d.topic}[{d.partition}]"
        click.echo(f"  #{d.id} {d.owner} {d.kind} {d.event_name or '-'} {where} (attempts {d.attempts}, since "
                   f"{d.first_failed_at:%Y-%m-%d %H:%M:%S}): {d.error_class}: {d.error_message[:160]}")
    if len(letters) > DEAD_LETTERS_SHOWN:
        click.echo(f"  ... and {len(letters) - DEAD_LETTERS_SHOWN} more")
    if counts.get(RELAY):
        click.echo("  (relay dead letters are events not published to Kafka at all; retrying them needs RECUR_KAFKA_BOOTSTRAP_SERVERS)")


DEAD_LETTERS_SHOWN = 50


@projections.command(
    name="retry-dead",
    help="After a fix (new code deployed, or the offending data or constraint changed), handle the dead letters again: "
    "each aggregate's quarantined events are applied to their projection in version order, with the events held "
    "behind them, and marked resolved (relay dead letters are encoded anew and published to Kafka). A chain stops at "
    "the first event that still fails, which keeps its new error. Prints a summary line; exit code 0 when every "
    "dead letter chosen was resolved, 1 when some still fail. `recur projections status` lists them.",
)
@click.option("--projection", "owner", default=None, help="Only this projection's dead letters (`relay` for the relay's).")
@click.option("--id", "dead_letter_id", type=int, default=None,
              help="Only this dead letter, with the events of its aggregate held behind it.")
def retry_dead(owner: str | None, dead_letter_id: int | None) -> None:
    logs.configure_logging("retry-dead", "WARNING")
    from recur.consumers.dead_letters import RELAY, unresolved
    from recur.consumers.retry_dead import RelayRepublisher
    from recur.consumers.retry_dead import retry_dead as run_retry
    from recur.db import Database
    from recur.projections.registry import CONSUMED

    if owner is not None and owner not in CONSUMED and owner != RELAY:
        raise click.BadParameter(f"unknown projection {owner}; choose from {', '.join([*CONSUMED, RELAY])}")
    settings = Settings.from_env()
    url = database_url()
    db = Database(url, 2)
    relay = None
    try:
        if any(d.owner == RELAY for d in unresolved(db, owner, dead_letter_id)):
            if settings.kafka_bootstrap_servers:
                relay = RelayRepublisher(_events(url, 1), settings.kafka_bootstrap_servers)
            else:
                click.echo("relay dead letters are left as they are: set RECUR_KAFKA_BOOTSTRAP_SERVERS to publish them", err=True)
        report = run_retry(db, CONSUMED, owner, dead_letter_id, relay)
    finally:
        if relay is not None:
            relay.close()
            relay.events.close()
        db.close()
    for d in report.still_failing:
        where = f"{d.aggregate_id} v{d.version}" if d.aggregate_id else f"{d.topic}[{d.partition}] (not a recur event)"
        click.echo(f"  still failing #{d.id} {d.owner} {d.kind} {d.event_name or '-'} {where}: {d.error_class}: {d.error_message[:160]}")
    click.echo(report.summary())
    raise SystemExit(0 if report.all_applied else 1)


@projections.command(
    name="discard-dead",
    help="Dismiss a dead letter that is not a recur event at all (kind `malformed`: a message some other program "
    "wrote to a recur topic); there is nothing to apply. Events are never discarded, since the read models would then "
    "differ from a rebuild: fix the cause and use retry-dead.",
)
@click.option("--id", "dead_letter_id", type=int, required=True, help="The dead letter (see `recur projections status`).")
def discard_dead(dead_letter_id: int) -> None:
    logs.configure_logging("discard-dead", "WARNING")
    from recur.consumers.dead_letters import discard_malformed, find
    from recur.db import Database

    db = Database(database_url(), 1)
    try:
        letter = find(db, dead_letter_id)
        if letter is None or letter.resolved_at is not None:
            raise click.BadParameter(f"no unresolved dead letter #{dead_letter_id}")
        if not discard_malformed(db, dead_letter_id):
            raise click.BadParameter(f"#{dead_letter_id} is a recur event ({letter.kind}): fix the cause and run retry-dead instead")
    finally:
        db.close()
    click.echo(f"discarded #{dead_letter_id}: a message on {letter.topic}[{letter.partition}] that was not a recur event")


