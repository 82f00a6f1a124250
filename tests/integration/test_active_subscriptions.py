"""The dashboard's count of subscriptions active at an instant keeps its meaning now that it is one pass.

Active at `t`: a status-history row in trialing, active or past_due (on the product and plan asked) that began at or
before `t` and had not ended by `t`; each subscription once. The dashboard used to join the history once per instant;
`FORMER_DEFINITION` below is that statement, kept as the reference: on any history (activations, past due and
recovered, plan changes, cancellations, reactivations, late facts recorded with an earlier time, changes at the same
instant) and any instants (on a change, a microsecond either side, before the first change, repeated, unordered), the
one-pass count gives the same numbers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recur.db import Database
from recur.projections.queries.active_subscriptions import ALIVE, active_at

FORMER_DEFINITION = (
    "SELECT m.i, count(DISTINCT h.subscription_id) FROM unnest(%s::timestamptz[]) WITH ORDINALITY AS m(t, i) "
    "LEFT JOIN rm_status_history h ON h.producer_id = %s AND h.status = ANY(%s) AND h.from_at <= m.t "
    "AND (h.to_at IS NULL OR h.to_at > m.t){extra} GROUP BY m.i ORDER BY m.i"
)
STATUSES = ("pending", "trialing", "active", "past_due", "cancelled", "inactive")
T0 = datetime(2030, 3, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
PRODUCTS = {"course": ["monthly", "yearly"], "club": ["club"]}  # product -> its plans


@dataclass(frozen=True)
class Change:
    """A subscription moves to `status` (and maybe to another plan of its product) `after` its previous change; a
    negative `after` is a late fact, recorded with a time earlier than the status before it."""

    status: str
    after: timedelta
    other_plan: bool = False


@pytest.fixture
def db(read_models_of_its_own: Database) -> Database:
    return read_models_of_its_own


class Catalog:
    """Product and plan ids, new for each history so that histories never meet."""

    def __init__(self) -> None:
        self.producer = str(uuid.uuid4())
        self.products = {name: str(uuid.uuid4()) for name in PRODUCTS}
        self.plans = {plan: str(uuid.uuid4()) for plans in PRODUCTS.values() for plan in plans}


def record(db: Database, catalog: Catalog, product: str, started: datetime, first: str, changes: list[Change]) -> None:
    """Write one subscription's status history as the status_history projection does: each change closes the open
    row at its time and opens one in the new status and plan (none when neither changes)."""
    subscription = str(uuid.uuid4())
    plans = PRODUCTS[product]
    rows: list[list[Any]] = [[first, plans[0], started, None]]
    at = started
    for change in changes:
        at += change.after
        status, current_plan = rows[-1][0], rows[-1][1]
        plan = plans[(plans.index(current_plan) + 1) % len(plans)] if change.other_plan else current_plan
        if (status, plan) == (change.status, current_plan):
            continue
        rows[-1][3] = at
        rows.append([change.status, plan, at, None])
    with db.transaction() as cur:
        for version, (status, plan, from_at, to_at) in enumerate(rows, start=1):
            cur.execute(
                "INSERT INTO rm_status_history (subscription_id, producer_id, product_id, plan_id, status, from_at, to_at, "
                "version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (subscription, catalog.producer, catalog.products[product], catalog.plans[plan], status, from_at, to_at, version),
            )


def former_count(db: Database, catalog: Catalog, moments: list[datetime], product: str | None, plan: str | None) -> list[int]:
    extra, params = "", []
    if product:
        extra, params = extra + " AND h.product_id = %s", [*params, catalog.products[product]]
    if plan:
        extra, params = extra + " AND h.plan_id = %s", [*params, catalog.plans[plan]]
    rows = db.fetchall(FORMER_DEFINITION.format(extra=extra), [moments, catalog.producer, list(ALIVE), *params])
    return [int(row[1]) for row in rows]


def count(db: Database, catalog: Catalog, moments: list[datetime], product: str | None = None,
          plan: str | None = None) -> list[int]:
    return active_at(db, catalog.producer, moments, product and catalog.products[product], plan and catalog.plans[plan])


def changes_in(db: Database, catalog: Catalog) -> list[datetime]:
    rows = db.fetchall("SELECT from_at, to_at FROM rm_status_history WHERE producer_id = %s", [catalog.producer])
    return sorted({at for row in rows for at in row if at is not None})


# ------------------------------------------------------------------------------------------------- examples
def test_a_subscription_counts_from_the_instant_it_becomes_active_until_the_instant_it_is_cancelled(db: Database) -> None:
    catalog = Catalog()
    record(db, catalog, "course", T0, "pending", [Change("active", timedelta(hours=1)), Change("cancelled", timedelta(days=3))])
    active, cancelled = T0 + timedelta(hours=1), T0 + timedelta(days=3, hours=1)
    moments = [T0 - timedelta(days=1), T0, active - MICROSECOND, active, cancelled - MICROSECOND, cancelled, cancelled + MICROSECOND]
    assert count(db, catalog, moments) == [0, 0, 0, 1, 1, 0, 0]


def test_a_subscription_past_due_then_recovered_counts_throughout_and_a_trial_counts_too(db: Database) -> None:
    catalog = Catalog()
    record(db, catalog, "course", T0, "trialing", [
        Change("active", timedelta(days=7)), Change("past_due", timedelta(days=30)), Change("active", timedelta(days=3)),
    ])
    moments = [T0 + timedelta(days=day) for day in (0, 6, 7, 37, 38, 40, 41, 400)]
    assert count(db, catalog, moments) == [1] * len(moments)


def test_a_plan_change_moves_the_subscription_between_the_plans_counts_at_the_instant_of_the_change(db: Database) -> None:
    catalog = Catalog()
    record(db, catalog, "course", T0, "active", [Change("active", timedelta(days=10), other_plan=True)])
    changed = T0 + timedelta(days=10)
    moments = [changed - MICROSECOND, changed]
    assert count(db, catalog, moments, plan="monthly") == [1, 0]
    assert count(db, catalog, moments, plan="yearly") == [0, 1]
    assert count(db, catalog, moments, product="course") == [1, 1]
    assert count(db, catalog, moments, product="club") == [0, 0]


def test_a_late_fact_that_makes_two_active_periods_overlap_still_counts_the_subscription_once(db: Database) -> None:
    catalog = Catalog()
    # Active, past due on day 30, then a payment of day 25 reported after it: active again from day 25.
    record(db, catalog, "course", T0, "active", [Change("past_due", timedelta(days=30)), Change("active", -timedelta(days=5))])
    moments = [T0 + timedelta(days=day) for day in (24, 25, 27, 30, 31)]
    assert count(db, catalog, moments) == [1, 1, 1, 1, 1]
    assert count(db, catalog, moments) == former_count(db, catalog, moments, None, None)


def test_the_counts_come_in_the_order_the_instants_were_asked_repeats_included(db: Database) -> None:
    catalog = Catalog()
    record(db, catalog, "club", T0, "active", [Change("cancelled", timedelta(days=2))])
    later, inside = T0 + timedelta(days=5), T0 + timedelta(days=1)
    assert count(db, catalog, [later, inside, later, inside, T0]) == [0, 1, 0, 1, 1]
    assert count(db, catalog, []) == []


# ------------------------------------------------------------------------------------------------- any history
changes = st.builds(
    Change,
    status=st.sampled_from(STATUSES),
    after=st.one_of(
        st.integers(0, 90 * 24).map(lambda hours: timedelta(hours=hours)),
        st.integers(-10 * 24, 0).map(lambda hours: timedelta(hours=hours)),  # late facts, and changes at the same instant
        st.integers(0, 3).map(lambda micros: timedelta(microseconds=micros)),
    ),
    other_plan=st.booleans(),
)
subscriptions = st.tuples(
    st.sampled_from(list(PRODUCTS)),
    st.integers(0, 120 * 24).map(lambda hours: T0 + timedelta(hours=hours)),
    st.sampled_from(STATUSES),
    st.lists(changes, max_size=6),
)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(subscriptions, min_size=1, max_size=12), data=st.data())
def test_on_any_history_the_one_pass_count_is_the_former_per_instant_count(db: Database, histories: list[Any],
                                                                           data: st.DataObject) -> None:
    catalog = Catalog()
    for product, started, first, history in histories:
        record(db, catalog, product, started, first, history)
    edges = changes_in(db, catalog)
    around = [at + shift for at in edges for shift in (-MICROSECOND, timedelta(0), MICROSECOND)]
    anywhere = st.integers(-24, 240 * 24).map(lambda hours: T0 + timedelta(hours=hours))
    moments = data.draw(st.lists(st.one_of(st.sampled_from(around), anywhere), min_size=1, max_size=40), "moments")
    product = data.draw(st.sampled_from([None, *PRODUCTS]), "product")
    plan = data.draw(st.sampled_from([None, "monthly", "yearly", "club"]), "plan")
    assert count(db, catalog, moments, product, plan) == former_count(db, catalog, moments, product, plan)
