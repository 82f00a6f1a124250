"""`recur simulate` plays its story through the real commands; its summary is what the cancellation dashboard shows."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workers_in_threads import start_workers

from recur.bootstrap import build_services
from recur.scheduler import advance_clock
from recur.settings import Settings
from recur.simulation.run import Summary, simulate
from recur.simulation.story import Action, write_story

ADMIN = "adm_integration"
# Both fresh databases start their story on the same calendar, whatever day the suite runs.
CALENDAR_START = datetime(2027, 2, 15, tzinfo=UTC)


def test_a_simulated_business_summary_is_what_the_dashboard_shows(recur: Any, admin: Any) -> None:
    story = write_story(5, 12, 1)
    # One cancellation of each origin inside the measured month, whatever the seed drew.
    story = dataclasses.replace(story, actions=(*story.actions, Action(35, 0, "cancel_customer"), Action(40, 1, "cancel_seller"),
                                                Action(45, 2, "cancel_admin")))

    summary = simulate(recur.services, story, recur.services.gateway)

    (figures,) = summary.producers
    shown = admin.get(f"/v1/dashboards/cancellations?producer_id={figures.producer_id}&from={summary.measured_from.isoformat()}"
                      f"&to={summary.end.isoformat()}".replace("+", "%2B"))
    assert (figures.cancellations, figures.cancellation_rate, figures.by_origin, figures.lt_months, figures.ltv) == (
        shown["cancellations"], shown["cancellation_rate"], shown["by_origin"], shown["lt_months"], shown["ltv"])
    assert figures.cancellations >= 3 and {"customer", "seller", "admin"} <= {k for k, v in figures.by_origin.items() if v}
    assert summary.subscribers == 12
    assert 0 <= summary.recovered_by_retries <= summary.revenue and summary.charges_paid >= 12


def _simulate_on_a_fresh_recur(postgres_server: Any, data_root: Path, mail_url: str, seed: int) -> Summary:
    """`recur simulate`'s run on a database and broker of its own, with the workers running: nothing shared."""
    from recur.commands.event_store import open_event_store
    from recur.consumers.topic_admin import ensure_topics
    from recur.contract.topics import PARTITIONS, PROVISIONED
    from recur.db import migrate
    from recur.embedded.broker import start_embedded_broker
    from recur.embedded.postgres import create_database
    from recur.sealing import generate_master_key

    url = create_database(postgres_server.url, f"recur_simulation_{uuid.uuid4().hex[:8]}")
    migrate(url)
    open_event_store(url, 1, create_table=True).close()
    broker = start_embedded_broker(log_path=data_root / f"simulation-broker-{uuid.uuid4().hex[:6]}.log")
    ensure_topics(broker.bootstrap_servers, PROVISIONED, PARTITIONS)
    settings = Settings.from_env({"RECUR_DATABASE_URL": url, "RECUR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                                  "RECUR_ADMIN_TOKEN": ADMIN, "RECUR_SANDBOX": "1", "RECUR_MASTER_KEY": generate_master_key()})
    services = build_services(settings, url, pool_size=4)
    stop = threading.Event()
    threads = start_workers(settings, mail_url, stop)
    try:
        advance_clock(services, CALENDAR_START)
        return simulate(services, write_story(seed, 25, 3), services.gateway)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        services.close()
        broker.stop()


def _without_ids(summary: Summary) -> Summary:
    return dataclasses.replace(summary, producers=tuple(dataclasses.replace(figures, producer_id="") for figures in summary.producers))


def test_the_same_seed_on_two_fresh_databases_gives_the_same_summary(postgres_server: Any, data_root: Path, recur: Any) -> None:
    first = _simulate_on_a_fresh_recur(postgres_server, data_root, recur.mail.url, seed=7)
    second = _simulate_on_a_fresh_recur(postgres_server, data_root, recur.mail.url, seed=7)

    assert first.producers[0].producer_id != second.producers[0].producer_id  # two separate businesses...
    assert _without_ids(first) == _without_ids(second)  # ...with the same story told to the cent
    assert first.charges_paid >= 25 and first.revenue > 0
