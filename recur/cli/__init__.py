"""The `recur` command: `up`, `worker`, `bill`, `migrate` here; `projections` in projections.py, `kafka` and
`contract` in operators.py, `audit` in audit.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from recur import logs
from recur.cli.audit import audit
from recur.cli.notifications import notifications
from recur.cli.operators import contract, kafka
from recur.cli.projections import projections
from recur.cli.simulate import simulate
from recur.cli.webhooks import webhooks as webhooks_group
from recur.settings import Settings, SettingsError, generate_admin_token


class RecurCommands(click.Group):
    """Every command reads the settings first: one that cannot work (RECUR_GATEWAY=stripe without its key) stops it
    there, with the reason and exit code 1, before anything starts."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=RecurCommands, help="recur: event-sourced subscription billing. Settings come from RECUR_* environment variables.")
def main() -> None:
    pass


@main.command(
    help="Start recur: embedded PostgreSQL and Kafka broker (the recur[embedded] extra) unless RECUR_DATABASE_URL / "
    "RECUR_KAFKA_BOOTSTRAP_SERVERS point elsewhere, then the HTTP API, relay, projection consumer, notifier, webhooks "
    "worker and billing scheduler. Without RECUR_MASTER_KEY it uses <data dir>/master.key, made on first start. "
    "Ctrl-C stops everything."
)
@click.option("--port", type=int, default=None, help="HTTP port on 127.0.0.1 (default RECUR_PORT or 8000).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where embedded PostgreSQL keeps its data and runtime.json is written (default RECUR_DATA_DIR or .recur).",
)
@click.option("--workers", type=int, default=3, show_default=True, help="API worker processes.")
@click.option("--schedulers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Billing scheduler processes. They share each renewal run through claims, never billing one subscription "
              "twice; on 2 cores two bill about 1.5 times what one does (docs/PERFORMANCE.md, billing run).")
def up(port: int | None, data_dir: Path | None, workers: int, schedulers: int) -> None:
    logs.configure_logging("up")
    settings = Settings.from_env()
    if port is not None:
        settings = settings.with_(port=port)
    if data_dir is not None:
        settings = settings.with_(data_dir=data_dir.resolve())
    if not settings.admin_token:
        settings = settings.with_(admin_token=generate_admin_token())
        click.echo(f"RECUR_ADMIN_TOKEN was not set; admin token for this run: {settings.admin_token}", err=True)
    from recur.supervisor import up as run_up

    raise SystemExit(run_up(settings, api_workers=workers, scheduler_processes=schedulers))


@main.group(help="Run one worker loop in the foreground (recur up starts these for you).")
def worker() -> None:
    pass


@worker.command(help="Publish event-store events to Kafka, in order, at least once.")
def relay() -> None:
    logs.configure_logging("relay")
    from recur.workers import run_relay

    run_relay(Settings.from_env())


@worker.command(help="Decide the e-mails events call for (the notifier's consumer group) and send the outbox through "
                "RECUR_SMTP_URL, retrying what the server refuses for now.")
def notifier() -> None:
    logs.configure_logging("notifier")
    from recur.workers import run_notifier

    run_notifier(Settings.from_env())


@worker.command(help="Decide which webhook endpoints receive each subscription event (the recur-webhooks consumer group) and "
                "send the deliveries, signed, retrying on the schedule. Needs RECUR_MASTER_KEY.")
def webhooks() -> None:
    logs.configure_logging("webhooks")
    from recur.workers import run_webhooks

    run_webhooks(Settings.from_env())


@worker.command(help="Consume Kafka events into the read models.")
def consumer() -> None:
    logs.configure_logging("consumer")
    from recur.workers import run_consumer

    run_consumer(Settings.from_env())


@worker.command(help="Bill due subscriptions continuously.")
def scheduler() -> None:
    logs.configure_logging("scheduler")
    from recur.workers import run_scheduler

    run_scheduler(Settings.from_env())


@main.command(help="Bill everything due now (or, in the sandbox, advance the clock to --until, billing on the way).")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Sandbox only: move the sandbox clock to this UTC instant, running what falls due in time order.",
)
def bill(until: datetime | None) -> None:
    logs.configure_logging("bill")
    settings = Settings.from_env()
    if not settings.database_url:
        raise click.UsageError("RECUR_DATABASE_URL is not set: point it at recur's database (see runtime.json of `recur up`)")
    from recur.bootstrap import build_services
    from recur.scheduler import advance_clock, run_due
    from recur.sealing import MasterKeyError, check_master_key

    services = build_services(settings, settings.database_url, pool_size=2)
    try:
        try:  # billing replays subscriptions, whose personal data only the master key opens
            check_master_key(services.db, services.require_master_key())
        except MasterKeyError as error:
            raise click.ClickException(str(error)) from None
        if until is not None:
            if not settings.sandbox:
                raise click.UsageError("--until moves the sandbox clock: set RECUR_SANDBOX=1")
            from recur.http.sandbox import clock_horizon

            horizon = clock_horizon(datetime.now(UTC))
            if until.replace(tzinfo=UTC) > horizon:
                raise click.UsageError(f"--until must not be after {horizon.date().isoformat()}: the shared clock never goes back")
            steps = advance_clock(services, until.replace(tzinfo=UTC))
            click.echo(f"clock at {services.clock.now().isoformat()} after {steps} billing steps")
        else:
            report = run_due(services)
            click.echo(f"examined {report.examined}, billed {report.billed}, reported {report.reports} periods, errors {report.errors}")
    finally:
        services.close()


@main.command(help="Apply pending database migrations (recur up does this on start).")
def migrate() -> None:
    logs.configure_logging("migrate")
    settings = Settings.from_env()
    if not settings.database_url:
        raise click.UsageError("RECUR_DATABASE_URL is not set")
    from recur.commands.event_store import open_event_store
    from recur.migrations import MigrationError
    from recur.migrations import migrate as run_migrations

    try:
        applied = run_migrations(settings.database_url)
    except MigrationError as error:
        raise click.ClickException(str(error)) from error
    open_event_store(settings.database_url, 1, create_table=True).close()
    click.echo("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))


main.add_command(projections)
main.add_command(kafka)
main.add_command(contract)
main.add_command(notifications)
main.add_command(audit)
main.add_command(webhooks_group)
main.add_command(simulate)
