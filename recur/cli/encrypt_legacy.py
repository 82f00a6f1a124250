"""`recur audit encrypt-legacy`: seal the personal data of events stored before encryption, once, re-chaining the log
from the first row changed (recur/commands/legacy_encryption.py says why and how)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn

import click

from recur import logs
from recur.cli.checkpoint_publishing import publish_checkpoints
from recur.cli.environment import database_url, master_key_text

if TYPE_CHECKING:
    from recur.db import Database

BROKEN = 1  # exit code: the chain breaks, nothing was changed (usage and configuration errors exit with 2)


@click.command(
    "encrypt-legacy",
    help="Seal the personal data (subscriber name, e-mail, country; card brand and last 4) that events stored before "
    "encryption keep in plain, with each subscription's data key (made now when it has none, with its e-mail's lookup row "
    "so an erasure finds it), as every event written since is sealed; a subscription already erased gets its personal "
    "fields stored null instead. This rewrites stored rows, so the hash chain is recomputed from the first one changed: "
    "the whole chain is verified first (a broken one is refused: exit code 1, nothing changed), then, in one transaction "
    "holding the event store's write lock, a checkpoint of the head is recorded, the rows are rewritten and re-chained, "
    "the rewrite is recorded (audit_rewrites: `recur audit checkpoints` and `verify` show it) and a checkpoint after it "
    "is recorded; both checkpoints are then published to recur.audit.v1. Writers wait while it runs. Needs "
    "RECUR_DATABASE_URL and the master key (RECUR_MASTER_KEY, or <RECUR_DATA_DIR>/master.key). Exit code 0 when done or "
    "when there is nothing to do (a second run), 1 when the chain breaks, 2 for a usage or configuration error.",
)
@click.option("--dry-run", is_flag=True, help="Only count the events and subscriptions that would change; needs no master key.")
def encrypt_legacy(dry_run: bool) -> None:
    logs.configure_logging("audit", "WARNING")
    from recur.commands.legacy_personal_data import count_plain
    from recur.db import Database

    db = Database(database_url(), 3)
    try:
        plain = count_plain(db)
        if not plain.events or plain.first_id is None:
            click.echo("nothing to do: no stored event holds personal data in plain")
            return
        if dry_run:
            click.echo(f"{plain.describe()} hold personal data in plain and would be sealed (or stored null, for an "
                       f"erased subscription); the chain would be recomputed from notification id {plain.first_id} to the head")
            return
        _encrypt(db, plain.first_id)
    finally:
        db.close()


def _encrypt(db: Database, first: int) -> None:
    from recur.cli.audit import describe
    from recur.commands.audit_verify import log_bounds, verify_chain
    from recur.commands.event_store import open_event_store
    from recur.commands.legacy_encryption import ChainBrokenError, encrypt_legacy, prepare_keys
    from recur.sealing import MasterKey, MasterKeyError, check_master_key

    try:
        master_key = MasterKey.from_setting(master_key_text())
        check_master_key(db, master_key)
    except MasterKeyError as error:
        raise click.UsageError(str(error)) from None
    bounds = log_bounds(db)
    assert bounds is not None, "there are events to seal"
    with _bar(bounds[1] - bounds[0] + 1, "verifying the event log first", bounds[0]) as advance:
        verified = verify_chain(db, None, (), advance)
    if not verified.ok:
        _refuse(describe(verified))
    events = open_event_store(database_url(), 1, master_key=master_key, db=db)
    try:
        assert events.keys is not None and verified.head is not None
        with _bar(verified.head.notification_id - first + 1, "making the missing data keys", first) as advance:
            prepare_keys(db, events.keys, events.mapper.transcoder, advance)
        with _bar(bounds[1] - first + 1, "sealing and re-chaining", first) as advance:
            done = encrypt_legacy(db, events.keys, events.mapper.transcoder, verified.head.notification_id, advance)
    except ChainBrokenError as error:
        _refuse(describe(error.verification))
    finally:
        events.close()
    if done.rewrite is None:
        click.echo("nothing to do: no stored event holds personal data in plain")
        return
    assert done.before is not None and done.after is not None
    click.echo(f"sealed {done.rows_sealed} events and stored null the personal data of {done.rows_nulled} events of erased "
               f"subscriptions ({done.subscriptions} subscriptions)")
    click.echo(done.rewrite.describe())
    click.echo("checkpoint before: " + json.dumps(done.before.message()))
    click.echo("checkpoint after: " + json.dumps(done.after.message()))
    publish_checkpoints(db, "the checkpoints are recorded, not published (the scheduler publishes them)")


def _refuse(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(line)
    click.echo("refused: the chain must verify before it is recomputed (re-chaining would hide that break); nothing was "
               "changed", err=True)
    raise SystemExit(BROKEN)


@contextlib.contextmanager
def _bar(length: int, label: str, first: int) -> Iterator[Callable[[int], None]]:
    """click's progress bar on stderr, advanced by notification ids as `recur audit verify` advances its own."""
    reached = first - 1
    with click.progressbar(length=max(length, 0), label=label, show_pos=True, show_eta=True, file=sys.stderr) as bar:

        def advance(notification_id: int) -> None:
            nonlocal reached
            bar.update(notification_id - reached)
            reached = notification_id

        yield advance
