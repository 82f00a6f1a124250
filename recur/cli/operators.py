"""`recur kafka ...` and `recur contract ...`: what operators of a real cluster and maintainers of the
public contract run."""

from __future__ import annotations

from pathlib import Path

import click

from recur import logs
from recur.settings import Settings


@click.group(help="Kafka administration for operators of a real cluster (recur up does this for its embedded broker).")
def kafka() -> None:
    pass


@kafka.command(
    name="create-topics",
    help="Create recur's topics that are missing (event topics, the dead-letter and audit topics) with --partitions "
    "partitions, and report topics that exist with another partition count. Never deletes or changes a topic: "
    "a mismatch is for you to resolve (recur refuses to publish to it), and makes the exit code 1.",
)
@click.option("--partitions", type=click.IntRange(min=1), default=None, help="Partitions of each new topic (default: recur's 6).")
def create_topics(partitions: int | None) -> None:
    logs.configure_logging("kafka", "WARNING")
    settings = Settings.from_env()
    if not settings.kafka_bootstrap_servers:
        raise click.UsageError("RECUR_KAFKA_BOOTSTRAP_SERVERS is not set: point it at the Kafka cluster")
    from recur.consumers.topic_admin import ensure_topics, misshapen_topics
    from recur.contract.topics import PARTITIONS, PROVISIONED

    wanted = partitions or PARTITIONS
    created = ensure_topics(settings.kafka_bootstrap_servers, PROVISIONED, wanted)
    mismatched = {shape.name: shape for shape in misshapen_topics(settings.kafka_bootstrap_servers, PROVISIONED, wanted)}
    for name in PROVISIONED:
        if name in mismatched:
            click.echo(f"mismatch  {mismatched[name]}")
        else:
            click.echo(f"{'created' if name in created else 'ok':<10}{name} ({wanted} partitions)")
    if mismatched:
        click.echo(f"{len(mismatched)} topic(s) with another partition count: recur will not publish to them. Fix them "
                   "(or point recur at another cluster); recur never deletes topics outside its embedded broker.", err=True)
        raise SystemExit(1)


@click.group(help="The public event contract (recur/contract): the documents generated from its schemas.")
def contract() -> None:
    pass


@contract.command(help="Print the AsyncAPI document of the public Kafka events (what docs/asyncapi.yaml holds).")
def asyncapi() -> None:
    from recur.contract.asyncapi import render

    click.echo(render(), nl=False)


@contract.command(help="Regenerate docs/asyncapi.yaml and the event tables of docs/EVENTS.md from the event schemas. "
                       "With --check, only compare them (exit code 1 when they are out of date).")
@click.option("--docs-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("docs"), show_default=True,
              help="The repository's docs folder.")
@click.option("--check", is_flag=True, help="Change nothing; fail when a document differs from what the schemas give.")
def docs(docs_dir: Path, check: bool) -> None:
    from recur.contract import documents

    if check:
        stale = documents.stale(docs_dir)
        for path in stale:
            click.echo(f"{path} is out of date: run `recur contract docs`", err=True)
        raise SystemExit(1 if stale else 0)
    changed = documents.write(docs_dir)
    click.echo("\n".join(f"wrote {path}" for path in changed) if changed else "the documents were up to date")


