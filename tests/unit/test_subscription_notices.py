"""Time-based notices: the renewal reminder some days before each renewal charge, and the notice three days
before a trial ends. The billing scheduler records them when `next_due_at` brings it by."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain_builders import (
    ACTOR,
    BOLETO,
    JAN_31,
    active_subscription,
    charge_approved,
    charge_refused,
    due_request,
    names,
    of_type,
    plan_terms,
    replay,
    start_subscription,
    utc,
)

from recur.domain.subscription import Subscription

ONE_SECOND = timedelta(seconds=1)
REMINDED_3_DAYS_AHEAD = plan_terms(renewal_reminder_days=3)


def run_billing(sub: Subscription, now: datetime, until: datetime) -> list[datetime]:
    """Play the billing scheduler from `now` to `until`: whenever the subscription is due, its housekeeping
    (notices included), then the charge due, approved. The clock never goes back, so a moment already past
    is run at once. Returns the moments it woke at; waking for nothing fails (a busy loop)."""
    visits: list[datetime] = []
    while sub.next_due_at is not None and sub.next_due_at <= until:
        now = max(now, sub.next_due_at)
        version = sub.version
        sub.settle_due_housekeeping(now, ACTOR)
        request = sub.begin_charge(now, ACTOR)
        if request is not None:
            sub.record_charge_approved(request.key, f"gw-{request.key}", now, ACTOR)
        assert sub.version > version, f"the scheduler woke at {now.isoformat()} and found nothing to do"
        visits.append(now)
    return visits


def reminders(sub: Subscription) -> list[tuple[int, datetime, datetime]]:
    """(cycle, renews_at, recorded at) of each renewal reminder recorded since the last look."""
    return [(e.cycle, e.renews_at, e.at) for e in of_type(list(sub.collect_events()), "RenewalUpcoming")]


# ---------------------------------------------------------------- renewal reminder
def test_the_renewal_reminder_falls_due_the_plans_days_before_the_renewal_and_not_before() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)
    sub.collect_events()

    assert sub.next_charge_at == utc(2024, 2, 29)
    assert sub.next_due_at == utc(2024, 2, 26)
    assert not sub.settle_due_housekeeping(utc(2024, 2, 26) - ONE_SECOND, ACTOR)
    assert sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)

    (reminder,) = of_type(list(sub.collect_events()), "RenewalUpcoming")
    assert (reminder.cycle, reminder.renews_at, reminder.days_before, reminder.at) == (2, utc(2024, 2, 29), 3, utc(2024, 2, 26))
    assert (reminder.amount, reminder.currency, reminder.installments, reminder.plan_id) == (1000, "BRL", 1, "plan-basic")
    assert reminder.actor == ACTOR
    assert sub.next_due_at == utc(2024, 2, 29), "after the reminder the scheduler comes back for the charge"


def test_each_renewal_is_reminded_once() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)
    sub.collect_events()

    assert sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)
    assert not sub.settle_due_housekeeping(utc(2024, 2, 27), ACTOR)
    run_billing(sub, utc(2024, 2, 27), until=utc(2024, 5, 1))

    assert reminders(sub) == [
        (2, utc(2024, 2, 29), utc(2024, 2, 26)),
        (3, utc(2024, 3, 31), utc(2024, 3, 28)),
        (4, utc(2024, 4, 30), utc(2024, 4, 27)),
    ]


def test_a_plan_without_reminder_days_is_never_reminded() -> None:
    sub = active_subscription()

    assert sub.next_due_at == sub.next_charge_at == utc(2024, 2, 29)
    run_billing(sub, JAN_31, until=utc(2024, 6, 1))
    assert of_type(list(sub.collect_events()), "RenewalUpcoming") == []


def test_the_first_charge_gets_no_reminder() -> None:
    sub = start_subscription(terms=REMINDED_3_DAYS_AHEAD)

    assert sub.next_due_at == JAN_31
    run_billing(sub, JAN_31, until=JAN_31)

    assert names(list(sub.collect_events())).count("RenewalUpcoming") == 0
    assert (sub.status, sub.next_due_at) == ("active", utc(2024, 2, 26))


def test_a_billing_day_change_before_the_reminder_moves_it_with_the_renewal() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)
    sub.collect_events()

    sub.change_billing_day(20, utc(2024, 2, 5), ACTOR)

    assert (sub.next_charge_at, sub.next_due_at) == (utc(2024, 2, 20), utc(2024, 2, 17))
    run_billing(sub, utc(2024, 2, 5), until=utc(2024, 2, 20))
    assert reminders(sub) == [(2, utc(2024, 2, 20), utc(2024, 2, 17))]


def test_a_billing_day_moved_within_the_reminder_days_reminds_at_once() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)
    sub.collect_events()

    sub.change_billing_day(10, utc(2024, 2, 9), ACTOR)

    assert sub.next_charge_at == utc(2024, 2, 10)
    assert sub.next_due_at == utc(2024, 2, 7), "a moment already past: the scheduler runs it at once"
    assert run_billing(sub, utc(2024, 2, 9), until=utc(2024, 2, 10)) == [utc(2024, 2, 9), utc(2024, 2, 10)]
    assert reminders(sub) == [(2, utc(2024, 2, 10), utc(2024, 2, 9))]


def test_a_billing_day_change_after_the_reminder_does_not_remind_again() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)
    assert sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)
    sub.collect_events()

    sub.change_billing_day(10, utc(2024, 2, 27), ACTOR)

    assert sub.next_charge_at == sub.next_due_at == utc(2024, 3, 10)
    run_billing(sub, utc(2024, 2, 27), until=utc(2024, 3, 10))
    assert reminders(sub) == []
    assert sub.paid_recurrences == 2


def test_a_plan_change_reminds_with_the_new_plans_days_and_price() -> None:
    sub = active_subscription()
    quarterly = plan_terms(plan_id="plan-quarterly", periodicity="quarterly", price=2700, renewal_reminder_days=7)

    sub.change_plan(quarterly, sub.product_id, utc(2024, 2, 10), ACTOR)

    assert (sub.next_charge_at, sub.next_due_at) == (utc(2024, 2, 29), utc(2024, 2, 22))
    assert sub.settle_due_housekeeping(utc(2024, 2, 22), ACTOR)
    (reminder,) = of_type(list(sub.collect_events()), "RenewalUpcoming")
    assert (reminder.cycle, reminder.renews_at, reminder.days_before) == (2, utc(2024, 2, 29), 7)
    assert (reminder.amount, reminder.plan_id) == (2700, "plan-quarterly")


def test_a_plan_change_to_a_plan_without_reminders_cancels_the_coming_one() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)

    sub.change_plan(plan_terms(plan_id="plan-quiet", price=1500), sub.product_id, utc(2024, 2, 10), ACTOR)

    assert sub.next_due_at == sub.next_charge_at == utc(2024, 2, 29)
    assert not sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)


def test_a_subscription_set_to_cancel_at_period_end_gets_no_reminder() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)

    sub.cancel("customer", None, "period_end", utc(2024, 2, 10), ACTOR)

    assert sub.next_due_at == sub.cancel_at == utc(2024, 2, 29)
    assert not sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)
    run_billing(sub, utc(2024, 2, 26), until=utc(2024, 4, 1))
    assert sub.status == "cancelled"
    assert of_type(list(sub.collect_events()), "RenewalUpcoming") == []


def test_a_cancelled_subscription_gets_no_reminder() -> None:
    sub = active_subscription(terms=REMINDED_3_DAYS_AHEAD)

    sub.cancel("seller", None, "now", utc(2024, 2, 10), ACTOR)

    assert sub.next_due_at is None
    assert not sub.settle_due_housekeeping(utc(2024, 2, 26), ACTOR)
    assert of_type(list(sub.collect_events()), "RenewalUpcoming") == []


def test_a_past_due_subscription_is_not_reminded_until_a_charge_brings_it_back() -> None:
    sub = active_subscription()
    charge_refused(sub, utc(2024, 2, 29))
    # The renewal being retried would be reminded 3 days ahead on the new plan, if a past_due one were.
    sub.change_plan(plan_terms(plan_id="plan-reminded", renewal_reminder_days=3), sub.product_id, utc(2024, 3, 1), ACTOR)
    sub.collect_events()
    assert sub.retry is not None and sub.retry.next_retry_at is not None

    assert sub.status == "past_due"
    assert sub.next_due_at == sub.retry.next_retry_at
    assert not sub.settle_due_housekeeping(sub.retry.next_retry_at - ONE_SECOND, ACTOR)
    charge_approved(sub, sub.retry.next_retry_at)

    assert sub.status == "active"
    assert (sub.next_charge_at, sub.next_due_at) == (utc(2024, 3, 31), utc(2024, 3, 28))
    run_billing(sub, utc(2024, 3, 3), until=utc(2024, 3, 31))
    assert reminders(sub) == [(3, utc(2024, 3, 31), utc(2024, 3, 28))]


def test_smart_installments_remind_once_per_cycle_before_its_renewal_not_before_each_installment() -> None:
    annual_in_12 = plan_terms(price=120000, periodicity="annual", installments=12, renewal_reminder_days=7)
    sub = active_subscription(terms=annual_in_12)
    sub.collect_events()

    assert sub.next_due_at == sub.next_charge_at == utc(2024, 2, 29)
    run_billing(sub, JAN_31, until=utc(2025, 2, 1))

    events = list(sub.collect_events())
    (reminder,) = of_type(events, "RenewalUpcoming")
    assert (reminder.cycle, reminder.renews_at, reminder.at) == (2, utc(2025, 1, 31), utc(2025, 1, 24))
    assert (reminder.amount, reminder.installments) == (10000, 12)
    assert len(of_type(events, "ChargeSucceeded")) == 12  # installments 2..12, then the renewal


def test_a_reminder_due_when_the_charge_is_due_too_is_recorded_before_the_charge() -> None:
    # Replayed from events without any notice, as histories recorded before notices existed are; their
    # schedule still pointed at the charge, so the scheduler first comes by when the renewal is due.
    sub = replay(list(active_subscription(terms=REMINDED_3_DAYS_AHEAD).collect_events()))
    assert sub.compute_next_due_at() == utc(2024, 2, 26)

    run_billing(sub, utc(2024, 2, 29), until=utc(2024, 2, 29))

    recorded = [name for name in names(list(sub.collect_events())) if name != "Rescheduled"]
    assert recorded == ["RenewalUpcoming", "ChargeAttempted", "ChargeSucceeded"]
    assert sub.next_due_at == utc(2024, 3, 28)


def test_a_reminder_due_as_the_previous_renewal_is_paid_comes_right_after_it() -> None:
    # A monthly plan reminding 31 days ahead: the renewal of Mar 31 is reminded on Feb 29, the instant the
    # renewal of Feb 29 is paid; the scheduler comes back once for it, then waits for the next charge.
    sub = active_subscription(terms=plan_terms(renewal_reminder_days=31))
    sub.collect_events()

    visits = run_billing(sub, JAN_31, until=utc(2024, 3, 1))

    assert visits == [JAN_31, utc(2024, 2, 29), utc(2024, 2, 29)]
    assert reminders(sub) == [(2, utc(2024, 2, 29), JAN_31), (3, utc(2024, 3, 31), utc(2024, 2, 29))]
    assert sub.next_due_at == utc(2024, 3, 31)


def test_a_renewal_already_being_charged_is_not_reminded_any_more() -> None:
    # Histories from before notices: the renewal was charged without a reminder, by boleto or by card.
    by_boleto = replay(list(start_subscription(terms=REMINDED_3_DAYS_AHEAD, payment_method=BOLETO).collect_events()))
    first = due_request(by_boleto, JAN_31)
    by_boleto.record_boleto_issued(first.key, "boleto-1", "23790.00000 00000.000000", JAN_31, ACTOR)
    by_boleto.record_boleto_paid("boleto-1", JAN_31, ACTOR)
    renewal = due_request(by_boleto, utc(2024, 2, 29))
    by_boleto.record_boleto_issued(renewal.key, "boleto-2", "23790.00000 00000.000000", utc(2024, 2, 29), ACTOR)
    by_card = replay(list(active_subscription(terms=REMINDED_3_DAYS_AHEAD).collect_events()))
    due_request(by_card, utc(2024, 2, 29))  # the gateway's answer is still awaited

    assert by_boleto.boleto is not None and by_boleto.next_due_at == by_boleto.boleto.expires_at
    assert by_card.next_due_at == utc(2024, 2, 29)
    for sub in (by_boleto, by_card):
        assert not sub.announce_due_notices(utc(2024, 3, 1), ACTOR)
        assert of_type(list(sub.collect_events()), "RenewalUpcoming") == []


# ---------------------------------------------------------------- trial ending
def test_a_trial_ending_is_announced_three_days_before_with_the_first_charge() -> None:
    sub = start_subscription(trial_days=7)
    trial_end = JAN_31 + timedelta(days=7)

    assert sub.next_due_at == trial_end - timedelta(days=3)
    assert not sub.settle_due_housekeeping(trial_end - timedelta(days=3) - ONE_SECOND, ACTOR)
    assert sub.settle_due_housekeeping(trial_end - timedelta(days=3), ACTOR)

    (notice,) = of_type(list(sub.collect_events()), "TrialEndingSoon")
    assert (notice.trial_ends_at, notice.amount, notice.currency, notice.at) == (trial_end, 1000, "BRL", trial_end - timedelta(days=3))
    assert sub.next_due_at == trial_end
    assert not sub.settle_due_housekeeping(trial_end - timedelta(days=1), ACTOR)


def test_a_trial_of_two_days_is_announced_at_once_and_only_once() -> None:
    sub = start_subscription(trial_days=2)

    assert sub.next_due_at == JAN_31 - timedelta(days=1), "a moment already past: the scheduler runs it at once"
    visits = run_billing(sub, JAN_31, until=JAN_31 + timedelta(days=2))

    assert visits == [JAN_31, JAN_31 + timedelta(days=2)]
    (notice,) = of_type(list(sub.collect_events()), "TrialEndingSoon")
    assert (notice.at, notice.trial_ends_at) == (JAN_31, JAN_31 + timedelta(days=2))
    assert sub.status == "active"


def test_a_trial_ending_notice_quotes_a_plan_chosen_during_the_trial() -> None:
    sub = start_subscription(trial_days=7)

    sub.change_plan(plan_terms(plan_id="plan-premium", price=4990), sub.product_id, JAN_31 + timedelta(days=1), ACTOR)
    assert sub.settle_due_housekeeping(JAN_31 + timedelta(days=4), ACTOR)

    (notice,) = of_type(list(sub.collect_events()), "TrialEndingSoon")
    assert notice.amount == 4990


def test_a_trial_ending_notice_quotes_the_first_installment_of_a_plan_in_installments() -> None:
    sub = start_subscription(terms=plan_terms(price=3001, periodicity="quarterly", installments=3), trial_days=7)

    assert sub.settle_due_housekeeping(JAN_31 + timedelta(days=4), ACTOR)

    (notice,) = of_type(list(sub.collect_events()), "TrialEndingSoon")
    assert notice.amount == 1001


def test_a_trial_whose_first_charge_is_under_way_is_not_announced_any_more() -> None:
    # Histories from before notices: the trial's end was charged without a notice, by boleto (the
    # subscription stays trialing until it is paid) or by card (the gateway's answer is still awaited).
    trial_end = JAN_31 + timedelta(days=7)
    by_boleto = replay(list(start_subscription(trial_days=7, payment_method=BOLETO).collect_events()))
    request = due_request(by_boleto, trial_end)
    by_boleto.record_boleto_issued(request.key, "boleto-1", "23790.00000 00000.000000", trial_end, ACTOR)
    by_card = replay(list(start_subscription(trial_days=7).collect_events()))
    due_request(by_card, trial_end)

    assert by_boleto.next_due_at == trial_end + timedelta(days=3)
    assert by_card.next_due_at == trial_end
    for sub in (by_boleto, by_card):
        assert sub.status == "trialing"
        assert not sub.announce_due_notices(trial_end + timedelta(days=1), ACTOR)
        assert of_type(list(sub.collect_events()), "TrialEndingSoon") == []


def test_a_trial_cancelled_at_its_end_or_now_gets_no_notice() -> None:
    set_to_cancel = start_subscription(trial_days=7)
    set_to_cancel.cancel("customer", None, "period_end", JAN_31 + timedelta(days=1), ACTOR)
    cancelled = start_subscription(trial_days=7)
    cancelled.cancel("customer", None, "now", JAN_31 + timedelta(days=1), ACTOR)

    assert set_to_cancel.next_due_at == JAN_31 + timedelta(days=7)
    assert cancelled.next_due_at is None
    for sub in (set_to_cancel, cancelled):
        run_billing(sub, JAN_31 + timedelta(days=1), until=JAN_31 + timedelta(days=30))
        assert not sub.settle_due_housekeeping(JAN_31 + timedelta(days=4), ACTOR)
        assert sub.status == "cancelled"
        assert of_type(list(sub.collect_events()), "TrialEndingSoon") == []


def test_a_trial_is_announced_but_its_first_charge_is_not_reminded_as_a_renewal() -> None:
    sub = start_subscription(terms=REMINDED_3_DAYS_AHEAD, trial_days=7)

    run_billing(sub, JAN_31, until=utc(2024, 3, 5))

    events = list(sub.collect_events())
    assert [e.at for e in of_type(events, "TrialEndingSoon")] == [utc(2024, 2, 4)]
    assert [(e.cycle, e.at) for e in of_type(events, "RenewalUpcoming")] == [(2, utc(2024, 3, 4))]
