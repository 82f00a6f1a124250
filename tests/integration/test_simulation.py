"""`recur simulate` plays its story through the real commands; its summary is what the cancellation dashboard shows."""

from __future__ import annotations

import dataclasses
from typing import Any

from recur.simulation.run import simulate
from recur.simulation.story import Action, write_story

ADMIN = "adm_integration"


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
