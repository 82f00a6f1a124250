"""Billing rules that hold for any history: random commands against a fake gateway ledger.

The machine plays a punctual scheduler (when the clock moves, everything that fell due runs in
time order, as in the sandbox) plus everything people and a second scheduler may do in between:
crashes between the gateway call and the recording of its result, repeated recordings, card and
boleto changes, reprocessing, cancellations, plan changes, billing-day changes and refunds (full or
partial, approved, pending or refused, with crashes before their answer is recorded).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from domain_builders import ACTOR, BOLETO, CARD, NEW_CARD, FakeGateway, plan_terms, start_subscription, utc
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from recur.domain.calendar import PERIOD_MONTHS
from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.money import Money
from recur.domain.refunds import RefundRequest
from recur.domain.subscription import ORIGINS, ChargeRequest, PlanTerms, Subscription

# Statuses a subscription may move to from each status, read from the API's statuses and billing rules.
LEGAL_NEXT_STATUS: dict[str | None, set[str]] = {
    None: {"pending"},
    "pending": {"pending", "trialing", "active", "inactive", "cancelled"},  # trialing only when the trial starts
    "trialing": {"trialing", "active", "past_due", "inactive", "cancelled"},
    "active": {"active", "past_due", "inactive", "cancelled"},
    "past_due": {"past_due", "active", "inactive", "cancelled"},
    "inactive": {"inactive", "active", "cancelled"},
    "cancelled": {"cancelled"},
}
SOFT_DECLINES = ["insufficient_funds", "card_declined", "do_not_honor"]
HARD_DECLINES = ["stolen_card", "expired_card", "invalid_account"]
OUTCOMES = st.sampled_from(["approved"] * 5 + SOFT_DECLINES + HARD_DECLINES)
REFUND_OUTCOMES = st.sampled_from(["succeeded", "succeeded", "pending", "failed"])
WAITS = st.sampled_from(
    [timedelta(0), timedelta(hours=1), timedelta(days=1), timedelta(days=3), timedelta(days=7), timedelta(days=15), timedelta(days=31)]
)
STARTS = [utc(2024, 1, 31), utc(2024, 2, 29), utc(2023, 8, 31, 23), utc(2024, 3, 15, 0)]


@st.composite
def subscription_terms(draw: st.DrawFn) -> PlanTerms:
    periodicity = draw(st.sampled_from(list(PERIOD_MONTHS)))
    return plan_terms(
        price=draw(st.integers(min_value=100, max_value=500_000)),
        periodicity=periodicity,
        installments=draw(st.integers(min_value=1, max_value=PERIOD_MONTHS[periodicity])),
        max_retries=draw(st.integers(min_value=0, max_value=10)),
        window_days=draw(st.integers(min_value=1, max_value=60)),
        reset_billing_date=draw(st.booleans()),
        plan_id=draw(st.sampled_from(["plan-basic", "plan-premium"])),
        renewal_reminder_days=draw(st.sampled_from([None, None, 1, 3, 7, 28, 31, 60])),
    )


class BillingHistory(RuleBasedStateMachine):
    sub: Subscription
    now: datetime
    gateway: FakeGateway
    events: list[Any]
    replica: Subscription | None
    last_recorded: ChargeRequest | None
    boleto_count: int

    @initialize(
        terms=subscription_terms(),
        trial_days=st.sampled_from([0, 0, 7, 30]),
        start=st.sampled_from(STARTS),
        boleto=st.booleans(),
        outcome=OUTCOMES,
    )
    def start(self, terms: PlanTerms, trial_days: int, start: datetime, boleto: bool, outcome: str) -> None:
        self.now = start
        self.gateway = FakeGateway()
        self.events, self.replica, self.last_recorded, self.boleto_count = [], None, None, 0
        self.sub = start_subscription(terms=terms, trial_days=trial_days, payment_method=BOLETO if boleto else CARD, at=start)
        self.absorb_events()
        self.charge_due(outcome)  # without a trial the first charge runs at once

    # ------------------------------------------------------------------ the gateway and the scheduler
    def charge_due(self, outcome: str, *, crash: bool = False, reprocess: bool = False) -> None:
        request = self.sub.begin_charge(self.now, ACTOR, reprocess=reprocess)
        if request is None:
            return
        if request.method == "boleto":
            self.boleto_count += 1
            self.sub.record_boleto_issued(request.key, f"boleto-{self.boleto_count}", "line", self.now, ACTOR)
        elif not crash:
            self.record(request, self.gateway.charge(request, outcome))

    def record(self, request: ChargeRequest, outcome: str) -> None:
        if outcome == "approved":
            self.sub.record_charge_approved(request.key, f"gw-{request.key}", self.now, ACTOR)
        else:
            self.sub.record_charge_refused(request.key, outcome, self.now, ACTOR)
        self.last_recorded = request

    def resolve_pending_charge(self, outcome: str) -> None:
        """After a crash: ask the gateway with the same key (its first answer wins) and record it."""
        request = self.sub.pending_charge()
        if request is not None:
            self.record(request, self.gateway.charge(request, outcome))

    def run_scheduler(self, outcome: str, refund_outcome: str = "succeeded") -> None:
        self.resolve_pending_charge(outcome)
        self.sub.settle_due_housekeeping(self.now, ACTOR)
        self.charge_due(outcome)
        for request in self.sub.refunds_due(self.now):  # answers that never came, pending ones due a recheck
            self.record_refund(request, self.gateway.refund(request, refund_outcome))

    def record_refund(self, request: RefundRequest, outcome: str) -> None:
        gateway_refund_id = f"re-{request.key}"
        if outcome == "succeeded":
            assert self.sub.record_refund_succeeded(request.refund_id, gateway_refund_id, self.now, ACTOR)
        elif outcome == "pending":
            assert self.sub.record_refund_pending(request.refund_id, gateway_refund_id, self.now, ACTOR)
        else:
            assert self.sub.record_refund_failed(request.refund_id, outcome, self.now, ACTOR)

    # ------------------------------------------------------------------ commands (each after some time passes)
    def advance_the_clock(self, delta: timedelta, data: st.DataObject) -> None:
        """Move the clock; the scheduler wakes at each due moment on the way, in time order."""
        target = self.now + delta
        for _ in range(500):
            due = self.sub.next_due_at
            if due is None or due > target:
                break
            self.now = max(self.now, due)
            version = self.sub.version
            self.run_scheduler(data.draw(OUTCOMES, label="outcome"), data.draw(REFUND_OUTCOMES, label="refund outcome"))
            self.absorb_events()
            assert self.sub.version > version, f"the scheduler woke at {due} and found nothing to do"
        else:
            raise AssertionError("the scheduler never caught up with the clock")
        self.now = target

    @rule(wait=WAITS, data=st.data())
    def time_passes(self, wait: timedelta, data: st.DataObject) -> None:
        self.advance_the_clock(wait, data)

    @rule(wait=WAITS, data=st.data(), outcome=OUTCOMES, crash=st.booleans())
    def a_second_scheduler_charges_now(self, wait: timedelta, data: st.DataObject, outcome: str, crash: bool) -> None:
        self.advance_the_clock(wait, data)
        self.charge_due(outcome, crash=crash)

    @rule(wait=WAITS, data=st.data(), outcome=OUTCOMES)
    def resolve_a_crashed_charge(self, wait: timedelta, data: st.DataObject, outcome: str) -> None:
        self.advance_the_clock(wait, data)
        self.resolve_pending_charge(outcome)

    @precondition(lambda self: self.last_recorded is not None)
    @rule(approved=st.booleans())
    def record_the_last_result_again(self, approved: bool) -> None:
        assert self.last_recorded is not None
        key = self.last_recorded.key
        with pytest.raises(InvalidStateError):
            if approved:
                self.sub.record_charge_approved(key, "gw-again", self.now, ACTOR)
            else:
                self.sub.record_charge_refused(key, "insufficient_funds", self.now, ACTOR)

    @rule(wait=WAITS, data=st.data(), outcome=OUTCOMES)
    def reprocess(self, wait: timedelta, data: st.DataObject, outcome: str) -> None:
        self.advance_the_clock(wait, data)
        sub = self.sub
        behind = sub.status in ("past_due", "inactive") or (sub.status == "pending" and sub.retry is not None)
        if sub.status == "cancelled":
            with pytest.raises(InvalidStateError):
                sub.begin_charge(self.now, ACTOR, reprocess=True)
        elif sub.inflight is not None or sub.boleto is not None:
            assert sub.begin_charge(self.now, ACTOR, reprocess=True) is None
        elif not behind:
            with pytest.raises(InvalidStateError):
                sub.begin_charge(self.now, ACTOR, reprocess=True)
        else:
            self.charge_due(outcome, reprocess=True)
            assert sub.pending_charge() is None

    @rule(wait=WAITS, data=st.data(), method=st.sampled_from([NEW_CARD, NEW_CARD, CARD, BOLETO]))
    def change_payment_method(self, wait: timedelta, data: st.DataObject, method: dict[str, Any]) -> None:
        self.advance_the_clock(wait, data)
        if self.sub.status == "cancelled":
            with pytest.raises(InvalidStateError):
                self.sub.change_payment_method(method, self.now, ACTOR)
        else:
            self.sub.change_payment_method(method, self.now, ACTOR)

    @precondition(lambda self: self.sub.boleto is not None)
    @rule()
    def pay_the_boleto(self) -> None:
        boleto = self.sub.boleto
        assert boleto is not None
        self.gateway.boleto_paid(boleto.attempt.key, boleto.amount.amount)
        self.sub.record_boleto_paid(boleto.id, self.now, ACTOR)

    @rule(
        wait=WAITS,
        data=st.data(),
        origin=st.sampled_from(ORIGINS),
        when=st.sampled_from(["now", "period_end"]),
        act=st.sampled_from([False] * 5 + [True]),
    )
    def cancel(self, wait: timedelta, data: st.DataObject, origin: str, when: str, act: bool) -> None:
        self.advance_the_clock(wait, data)
        if not act:  # people cancel less often than other things happen
            return
        already = self.sub.status == "cancelled" or (when == "period_end" and self.sub.cancel_at is not None)
        try:
            self.sub.cancel(origin, "reason", when, self.now, ACTOR)
        except InvalidStateError:
            assert already, "a cancellation was refused though none was made or scheduled"

    @rule(wait=WAITS, data=st.data(), terms=subscription_terms(), act=st.sampled_from([False] * 3 + [True]))
    def change_plan(self, wait: timedelta, data: st.DataObject, terms: PlanTerms, act: bool) -> None:
        self.advance_the_clock(wait, data)
        if not act:
            return
        sub = self.sub
        # The same retry policy: the retry invariant below checks every retry against the current one.
        terms = replace(terms, retry_policy=sub.policy)
        same_plan = terms.plan_id == sub.plan_id and terms.offer_id == sub.offer_id and sub.pending_terms is None
        if sub.status == "cancelled" or same_plan:
            with pytest.raises(InvalidStateError):
                sub.change_plan(terms, sub.product_id, self.now, ACTOR)
        else:
            sub.change_plan(terms, sub.product_id, self.now, ACTOR)

    @rule(wait=WAITS, data=st.data(), day=st.integers(min_value=1, max_value=28))
    def change_billing_day(self, wait: timedelta, data: st.DataObject, day: int) -> None:
        self.advance_the_clock(wait, data)
        if self.sub.status == "active" and self.sub.inflight is None:
            self.sub.change_billing_day(day, self.now, ACTOR)
            assert self.sub.next_charge_at is None or self.sub.next_charge_at >= self.now
        else:
            with pytest.raises(InvalidStateError):
                self.sub.change_billing_day(day, self.now, ACTOR)

    @rule(
        wait=WAITS,
        data=st.data(),
        outcome=REFUND_OUTCOMES,
        crash=st.sampled_from([False] * 3 + [True]),
        which=st.integers(min_value=-1, max_value=20),
        part=st.sampled_from([None, None, "left", "half", "one", "left + 1", "the charge", "nothing"]),
    )
    def refund(self, wait: timedelta, data: st.DataObject, outcome: str, crash: bool, which: int, part: str | None) -> None:
        """Refund a charge (the last one by default): all that is left (no amount) or some `part` of it, on the edges of
        what is allowed; the gateway answers, unless the process dies first (the scheduler then asks again with the key)."""
        self.advance_the_clock(wait, data)
        charges = list(self.sub.paid_charges.values())
        charge_id = charges[which % len(charges)].key if charges and which >= 0 else None
        target = self.sub.paid_charges[charge_id] if charge_id else (charges[-1] if charges else None)
        left = self.sub.refund_book.left(target) if target is not None else 0
        money = None
        if target is not None and part is not None:
            parts = {"left": left, "half": left // 2, "one": 1, "left + 1": left + 1, "the charge": target.amount.amount, "nothing": 0}
            money = Money(parts[part], target.amount.currency)
        try:
            request = self.sub.begin_refund(self.now, ACTOR, charge_id=charge_id, amount=money)
        except InvalidStateError:
            assert target is None or (money is None and left == 0), "a refund refused though money was left"
            return
        except RuleViolationError as error:
            assert money is not None and error.field == "amount" and not 1 <= money.amount <= left, str(error)
            return
        assert request.amount.amount == (money.amount if money is not None else left)
        if not crash:
            self.record_refund(request, self.gateway.refund(request, outcome))

    # ------------------------------------------------------------------ properties
    def absorb_events(self) -> None:
        for domain_event in self.sub.collect_events():
            before = self.replica.status if self.replica is not None else None
            self.replica = domain_event.mutate(self.replica)
            assert self.replica is not None
            after, name = self.replica.status, type(domain_event).__name__
            assert after in LEGAL_NEXT_STATUS[before], f"{before} -> {after} on {name}"
            assert after != "trialing" or before == "trialing" or name == "TrialStarted"
            self.events.append(domain_event)

    def named(self, name: str) -> list[Any]:
        return [e for e in self.events if type(e).__name__ == name]

    @invariant()
    def every_transition_is_legal_and_the_replay_matches(self) -> None:
        self.absorb_events()
        assert self.replica == self.sub

    @invariant()
    def an_installment_is_charged_and_approved_at_most_once(self) -> None:
        paid: set[tuple[int, int]] = set()
        for e in self.events:
            name = type(e).__name__
            if name in ("ChargeAttempted", "ChargeSucceeded"):
                installment = (e.cycle, e.installment)
                assert installment not in paid, f"installment {installment} {name} after it was paid"
                if name == "ChargeSucceeded":
                    paid.add(installment)

    @invariant()
    def paid_recurrences_and_total_paid_match_the_gateway_ledger(self) -> None:
        in_flight = self.sub.inflight.key if self.sub.inflight else None
        approved = self.gateway.approved(excluding=in_flight)
        succeeded = self.named("ChargeSucceeded")
        refunded = self.named("ChargeRefunded")
        assert self.sub.paid_recurrences == len(succeeded) == len(approved)
        assert self.sub.total_paid == sum(e.amount for e in succeeded) - sum(e.amount for e in refunded)
        # What went back at the gateway is what the subscription recorded: a refund whose answer is not recorded yet
        # was never asked (a crash before the call) or is still pending there.
        assert sum(e.amount for e in refunded) == self.gateway.refunded()

    @invariant()
    def no_charge_gives_back_more_than_it_took_and_each_refund_is_answered_once(self) -> None:
        for charge in self.sub.paid_charges.values():
            at_gateway = sum(amount for outcome, amount, charge_id in self.gateway.refunds.values()
                             if charge_id == charge.gateway_charge_id and outcome != "failed")
            assert at_gateway <= charge.amount.amount, f"{charge.key}: {at_gateway} went back of {charge.amount.amount}"
            assert charge.refunded + self.sub.refund_book.reserved(charge.key) <= charge.amount.amount
        answered = [e.refund_id for e in self.events if type(e).__name__ in ("ChargeRefunded", "RefundFailed")]
        assert len(answered) == len(set(answered)), "a refund answered twice"

    @invariant()
    def retries_stay_within_their_number_and_window(self) -> None:
        retry_charges: Counter[tuple[int, int]] = Counter()
        first_refusal: dict[tuple[int, int], datetime] = {}
        current: tuple[int, int] | None = None
        for e in self.events:
            name = type(e).__name__
            if name == "ChargeAttempted":
                current = (e.cycle, e.installment)
                if e.is_retry and not e.reprocess:
                    retry_charges[current] += 1
            elif name == "ChargeFailed":
                first_refusal.setdefault((e.cycle, e.installment), e.at)
            elif name == "RetryScheduled":
                assert current is not None
                policy = self.sub.policy
                assert 1 <= e.attempt <= e.max_retries == policy.max_retries
                assert e.first_refusal_at == first_refusal[current]
                assert e.window_ends_at == e.first_refusal_at + timedelta(days=policy.window_days)
                if e.next_retry_at is not None:
                    assert e.first_refusal_at <= e.next_retry_at <= e.window_ends_at, "a retry outside the window"
        assert all(n <= self.sub.policy.max_retries for n in retry_charges.values()), retry_charges

    @invariant()
    def each_notice_is_given_once_in_time_and_never_to_a_subscription_that_is_ending(self) -> None:
        reminded: list[int] = []
        attempted: set[tuple[int, int]] = set()
        ending = False
        for e in self.events:
            name = type(e).__name__
            if name == "ChargeAttempted":
                attempted.add((e.cycle, e.installment))
            elif name in ("CancellationScheduled", "Cancelled"):
                ending = True
            elif name == "RenewalUpcoming":
                assert not ending, "a renewal reminder to a subscription that is ending"
                assert e.cycle >= 2 and (e.cycle, 1) not in attempted, f"a reminder of cycle {e.cycle} after it was charged"
                assert reminded == [] or e.cycle > reminded[-1], f"cycle {e.cycle} reminded twice"
                assert e.at >= e.renews_at - timedelta(days=e.days_before), "a reminder before its moment"
                reminded.append(e.cycle)
            elif name == "TrialEndingSoon":
                assert not ending and not attempted, "a trial-ending notice to an ending or charged subscription"
                assert e.at >= e.trial_ends_at - timedelta(days=3), "a trial-ending notice before its moment"
        assert len(self.named("TrialEndingSoon")) <= 1

    @invariant()
    def a_reminder_announces_the_renewal_charge_it_precedes(self) -> None:
        """Unless the billing day or the plan changed in between, the reminder said what was then charged."""
        announced: dict[int, Any] = {}
        for e in self.events:
            name = type(e).__name__
            if name == "RenewalUpcoming":
                announced[e.cycle] = e
            elif name in ("BillingDayChanged", "PlanChanged"):
                announced.clear()
            elif name == "ChargeAttempted" and e.installment == 1 and e.attempt == 1 and e.cycle in announced:
                reminder = announced.pop(e.cycle)
                assert (e.due_at, e.amount, e.plan_id) == (reminder.renews_at, reminder.amount, reminder.plan_id)

    @invariant()
    def nothing_is_active_without_a_paid_charge_and_the_schedule_is_current(self) -> None:
        if self.sub.status == "active":
            assert self.sub.paid_recurrences >= 1
        if self.sub.status == "trialing":
            assert self.sub.paid_recurrences == 0
        assert self.sub.next_due_at == self.sub.compute_next_due_at()
        if self.sub.status == "cancelled":
            assert self.sub.next_charge_at is None


BillingHistory.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_billing_rules_hold_for_any_history = BillingHistory.TestCase
