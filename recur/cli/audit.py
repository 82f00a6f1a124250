"""`recur audit ...`: the auditor's commands on the event log's hash chain (recur/commands/audit_chain.py)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from recur import logs
from recur.cli.checkpoint_publishing import publish_checkpoints
from recur.cli.encrypt_legacy import encrypt_legacy
from recur.cli.environment import database_url

if TYPE_CHECKING:
    from recur.commands.audit_rewrites import Rewrite
    from recur.commands.audit_verify import Verification

BROKEN = 1  # exit code: the chain breaks, or a checkpoint does not match (click's usage errors exit with 2)


@click.group(help="The tamper-evident event log: verify its hash chain, record and publish checkpoints of it, and seal "
             "the personal data of events stored before encryption (the one sanctioned rewrite).")
def audit() -> None:
    pass


audit.add_command(encrypt_legacy)


@audit.command(help="Recompute the hash chain over every stored event, in notification order, and report the first break "
               "(an event edited, deleted, inserted or moved) with its notification id, aggregate and version. Exit code 0 "
               "when the chain holds (and matches every --checkpoint), 1 when it does not, 2 for a usage error.")
@click.option("--from", "start", type=click.IntRange(1, 2**63 - 1), default=None,
              help="Start at this notification id, taking the stored hash of the event before it as given.")
@click.option("--checkpoint", "given", multiple=True, metavar="CHECKPOINT",
              help="A checkpoint as published on recur.audit.v1 (the JSON message) or ID/HASH: prove the history up to it "
              "was not rewritten since. Repeatable.")
def verify(start: int | None, given: tuple[str, ...]) -> None:
    logs.configure_logging("audit", "WARNING")
    from recur.commands.audit_checkpoints import Checkpoint, InvalidCheckpointError
    from recur.commands.audit_rewrites import recorded_rewrites
    from recur.commands.audit_verify import CheckpointOutOfRangeError, log_bounds, verify_chain
    from recur.commands.legacy_personal_data import legacy_warning
    from recur.db import Database

    try:
        checkpoints = [Checkpoint.parse(text) for text in given]
    except InvalidCheckpointError as error:
        raise click.BadParameter(str(error), param_hint="--checkpoint") from None
    db = Database(database_url(), 1)
    try:
        bounds = log_bounds(db)
        first, last = (start or bounds[0], bounds[1]) if bounds else (0, 0)
        reached = first - 1
        with click.progressbar(length=max(last - first + 1, 0), label="verifying the event log", show_pos=True, show_eta=True,
                               file=sys.stderr) as bar:

            def advance(notification_id: int) -> None:
                nonlocal reached
                bar.update(notification_id - reached)
                reached = notification_id

            try:
                result = verify_chain(db, start, checkpoints, advance)
            except CheckpointOutOfRangeError as error:
                raise click.UsageError(str(error)) from None
        rewrites = recorded_rewrites(db)
        legacy = legacy_warning(db)
    finally:
        db.close()
    for line in describe(result, rewrites):
        click.echo(line)
    if legacy:
        click.echo(legacy, err=True)
    if not result.ok:
        raise SystemExit(BROKEN)


def describe(result: Verification, rewrites: list[Rewrite] | None = None) -> list[str]:
    """The verification in sentences: the chain first, then each rewrite recorded (the sanctioned changes to history
    an auditor's older checkpoints do not match), then each checkpoint."""
    head = f"head {result.head.notification_id} {result.head.hash}" if result.head else "no event"
    lines = []
    if result.first_break is None:
        lines.append(f"the chain holds: {result.events_checked} events checked, {head}")
    else:
        broken = result.first_break
        lines.append(
            f"the chain breaks at notification id {broken.notification_id}: aggregate {broken.aggregate_id} version {broken.version} "
            f"(the last event that verified is {broken.previous_notification_id or 'none'}): that event was edited, inserted or "
            "moved, or an event before it was deleted"
        )
    lines += [f"history rewritten on purpose: {rewrite.describe()}" for rewrite in rewrites or []]
    for check in result.checkpoints:
        verdict = {True: "matches", False: "DOES NOT MATCH", None: "not checked"}[check.matches]
        lines.append(f"checkpoint {check.checkpoint.notification_id}/{check.checkpoint.hash} {verdict}: {check.found}")
    return lines


@audit.command(help="Record the chain head as a checkpoint now (the scheduler does every hour and when it stops), publish it "
               "and any not yet published to the Kafka topic recur.audit.v1, and print it. Exit code 1 when it could not be "
               "published (it stays recorded, and the scheduler publishes it later).")
def checkpoint() -> None:
    logs.configure_logging("audit", "WARNING")
    from recur.commands.audit_checkpoints import record_checkpoint
    from recur.db import Database

    db = Database(database_url(), 1)
    try:
        recorded = record_checkpoint(db)
        if recorded is None:
            click.echo("nothing to checkpoint: the event log is empty", err=True)
            return
        click.echo(json.dumps(recorded.message()))
        if not publish_checkpoints(db, "recorded, not published"):
            raise SystemExit(BROKEN)
    finally:
        db.close()


@audit.command(help="Print the latest checkpoints recorded here, newest first, one JSON message a line. One that a recorded "
               "rewrite of history superseded (`recur audit encrypt-legacy`) says so in an extra `superseded_by` member, "
               "the rewrite: the rest of the line is the checkpoint as published.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
def checkpoints(limit: int) -> None:
    logs.configure_logging("audit", "WARNING")
    from recur.commands.audit_checkpoints import recorded_checkpoints
    from recur.commands.audit_rewrites import recorded_rewrites
    from recur.db import Database

    db = Database(database_url(), 1)
    try:
        rewrites = {rewrite.id: rewrite for rewrite in recorded_rewrites(db)}
        for recorded in recorded_checkpoints(db, limit):
            message = recorded.message()
            if recorded.superseded_by is not None:
                message["superseded_by"] = rewrites[recorded.superseded_by].message()
            click.echo(json.dumps(message))
    finally:
        db.close()
