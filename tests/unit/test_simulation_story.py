"""A simulation's story is drawn from its seed alone: the same seed tells the same story, another seed another one."""

from __future__ import annotations

from collections import Counter

from recur.simulation.story import write_story


def test_the_same_seed_tells_the_same_story_and_another_seed_another() -> None:
    assert write_story(7, 200, 3, producers=2) == write_story(7, 200, 3, producers=2)
    assert write_story(7, 200, 3) != write_story(8, 200, 3)


def test_a_story_has_trials_boletos_refusals_recoveries_and_cancellations_of_every_origin() -> None:
    story = write_story(1, 2000, 6, producers=3)
    people = story.subscribers

    assert {p.plan for p in people} == {"monthly", "monthly_trial", "quarterly"}
    assert {p.producer for p in people} == {0, 1, 2}
    assert 0.1 < sum(p.boleto for p in people) / len(people) < 0.2
    recovered = [p for p in people if "approved" in p.outcomes[1:] and p.outcomes[0] != "approved"]
    never = [p for p in people if p.outcomes[-6:].count("approved") == 0 and len(p.outcomes) >= 6]
    assert recovered and never
    kinds = Counter(action.kind for action in story.actions)
    assert {"cancel_customer", "cancel_seller", "cancel_admin", "change_plan", "change_card", "change_billing_day"} <= set(kinds)
    assert all(action.day > people[action.subscriber].signup_day for action in story.actions)
