"""The subscription: its lifecycle, billing dates, charges, retries and cancellation.

Every public method validates and decides (dates, amounts, the next status); the private
`@event` methods only assign, because their bodies re-run on every replay. Time always comes in
as an argument (`at`): the domain never reads a clock. Its state is held in value objects built
from event data: `PlanTerms`, `BillingAnchor` (schedule.py), `Attempt` and `Boleto` (charging.py),
`RetryState` (retry.py) and `Cancellation`; events carry plain JSON-able data.

Charges are two-phase so that a crash or a second scheduler can never charge an installment
twice: `begin_charge` records `ChargeAttempted` with the gateway idempotency key (optimistic
concurrency lets only one process record it), the gateway is called with that key, and the
result is recorded against the same key. A repeated call with the key returns the first result.

Time-based notices (like Stripe's `invoice.upcoming` and `customer.subscription.trial_will_end`) are events
of the subscription too: `RenewalUpcoming` some days before a renewal charge, `TrialEndingSoon` three days
before a trial ends. Their moment is part of `next_due_at`, so the billing scheduler comes by then and
records them (`settle_due_housekeeping`); the e-mails are sent by whoever consumes the events.

Refunds are two-phase like charges (`begin_refund` records `RefundRequested` with its gateway key before the gateway
is called); refunds made at the gateway and disputes are recorded as facts, idempotent by the gateway's ids. The
subscription remembers each paid charge (`paid_charges`) with what went back of it; the rules are in refunds.py.
A refund in flight is part of `next_due_at`, so the scheduler asks the gateway again if its answer never came.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from recur.domain.actor import Actor
from recur.domain.calendar import PERIOD_MONTHS
from recur.domain.charging import Attempt, Boleto, ChargeRequest, idempotency_key
from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.money import Money
from recur.domain.refunds import (
    DISPUTE_OUTCOMES,
    PENDING_REFUND_RECHECK,
    Dispute,
    PaidCharge,
    Refund,
    RefundBook,
    RefundRequest,
    refund_id,
)
from recur.domain.retry import RetryPolicy, RetryState, is_hard_decline
from recur.domain.schedule import (
    BillingAnchor,
    NextInstallment,
    RenewalReminder,
    anchor_on_billing_day,
    boleto_expiry,
    next_installment,
    renewal_reminder,
    trial_end,
    trial_ending_notice_at,
)
from recur.domain.terms import PlanTerms

# Who may cancel: the subscriber (customer), the producer (seller) or a platform admin. This is the
# one definition of the cancellation origins: other layers import it rather than copy it.
ORIGINS = ("customer", "seller", "admin")


@dataclass(frozen=True)
class Cancellation:
    """Who cancelled (one of ORIGINS) and why, if they said."""

    origin: str
    reason: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"origin": self.origin, "reason": self.reason}


class Subscription(Aggregate):
    # ------------------------------------------------------- events at version 2
    # Stored events are forever. An event that gains a field gets `class_version` + 1 and an
    # `upcast_vN_vN+1` giving old stored events the new field with the meaning they had when
    # recorded. Events declared by `@event("Name")` below are at version 1 (the library default).
    class ChargeAttempted(Aggregate.Event):
        """v2 adds the plan the charge was priced with and the installment's due date."""

        class_version = 2
        key: str
        plan_id: str | None
        due_at: datetime
        cycle: int
        installment: int
        installments: int
        amount: int
        currency: str
        method: str
        attempt: int
        is_retry: bool
        reprocess: bool
        at: datetime
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["plan_id"] = None  # not recorded then; reports show the subscription's plan
            state["due_at"] = state["at"]


    class ChargeSucceeded(Aggregate.Event):
        """v2 records the start of the paid period (a billing-day change no longer moves it)."""

        class_version = 2
        key: str
        gateway_charge_id: str
        cycle: int
        installment: int
        installments: int
        amount: int
        currency: str
        method: str
        new_terms: dict[str, Any] | None
        anchor: datetime
        cycle_offset: int
        period_start: datetime | None
        status: str
        at: datetime
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["period_start"] = None  # replay derives it from the anchor, as version 1 did


    class PlanChanged(Aggregate.Event):
        """v2 says whether the new plan applied at once (v1: whenever no cycle was paid yet)."""

        class_version = 2
        from_plan_id: str
        terms: dict[str, Any]
        applies_now: bool | None
        effective_at: datetime
        at: datetime
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["applies_now"] = None


    class Rescheduled(Aggregate.Event):
        """v2 carries the domain instant (`at`), so `as_of` places it in sandbox time."""

        class_version = 2
        next_due_at: datetime | None
        at: datetime | None
        actor: Actor

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["at"] = None

    # ---------------------------------------------------------------- start
    @classmethod
    def start(
        cls,
        *,
        code: str,
        producer_id: str,
        product_id: str,
        terms: PlanTerms,
        trial_days: int,
        subscriber: dict[str, Any],
        payment_method: dict[str, Any],
        subscriber_token_hash: str,
        at: datetime,
        actor: Actor,
    ) -> Subscription:
        """Start a subscription; with a trial the first charge waits for the trial's end."""
        if terms.periodicity not in PERIOD_MONTHS:
            raise RuleViolationError(f"periodicity must be one of {', '.join(PERIOD_MONTHS)}", "periodicity")
        if trial_days < 0:
            raise RuleViolationError("trial_days must be >= 0", "trial_days")
        max_installments = PERIOD_MONTHS[terms.periodicity]
        if not 1 <= terms.installments <= max_installments:
            raise RuleViolationError(f"installments must be between 1 and {max_installments}", "installments")
        trial_ends_at = trial_end(at, trial_days)
        sub = cls(
            code=code,
            producer_id=producer_id,
            product_id=product_id,
            terms=terms.as_dict(),
            subscriber=subscriber,
            payment_method=payment_method,
            subscriber_token_hash=subscriber_token_hash,
            started_at=at,
            first_charge_at=trial_ends_at or at,
            actor=actor,
        )
        if trial_ends_at is not None:
            sub._trial_started(trial_ends_at=trial_ends_at, at=at, actor=actor)
        sub._reschedule(at, actor)
        return sub

    @event("SubscriptionStarted")
    def __init__(
        self,
        code: str,
        producer_id: str,
        product_id: str,
        terms: dict[str, Any],
        subscriber: dict[str, Any],
        payment_method: dict[str, Any],
        subscriber_token_hash: str,
        started_at: datetime,
        first_charge_at: datetime,
        actor: Actor,
    ) -> None:
        self.code = code
        self.producer_id = producer_id
        self.product_id = product_id
        self.terms = PlanTerms.from_dict(terms)
        self.subscriber = subscriber
        self.payment_method = payment_method
        self.subscriber_token_hash = subscriber_token_hash
        self.status = "pending"
        self.started_at = started_at
        self.trial_ends_at: datetime | None = None
        self.anchor = BillingAnchor(first_charge_at)
        self.period_start: datetime | None = None
        self.cycle = 0
        self.paid_in_cycle = 0
        self.paid_recurrences = 0
        self.total_paid = 0
        self.attempts_on_installment = 0
        self.inflight: Attempt | None = None
        self.retry: RetryState | None = None
        self.boleto: Boleto | None = None
        self.pending_terms: PlanTerms | None = None
        self.unpaid_boletos: dict[str, Boleto] = {}
        self.cancel_at: datetime | None = None
        self.scheduled_cancellation: Cancellation | None = None
        self.cancelled_at: datetime | None = None
        self.cancellation: Cancellation | None = None
        self.next_due_at: datetime | None = None
        # The notices already given: set here, so that histories recorded before these events existed replay too.
        self.reminded_cycle = 0  # the last cycle whose renewal was announced (RenewalUpcoming)
        self.trial_ending_announced = False
        # Paid charges by attempt key, with their refunds and disputes (refunds.py); `total_paid` is net of what went back.
        self.paid_charges: dict[str, PaidCharge] = {}
        self.refunds: dict[str, Refund] = {}
        self.disputes: dict[str, Dispute] = {}
        self.total_refunded = 0
        self.erased = False  # the subscriber's personal data was erased (SubscriberErased)

    @event("TrialStarted")
    def _trial_started(self, trial_ends_at: datetime, at: datetime, actor: Actor) -> None:
        self.status = "trialing"
        self.trial_ends_at = trial_ends_at

    # ------------------------------------------------------------ derived views
    @property
    def plan_id(self) -> str:
        return self.terms.plan_id

    @property
    def offer_id(self) -> str | None:
        return self.terms.offer_id

    @property
    def price(self) -> Money:
        return self.terms.price

    @property
    def periodicity(self) -> str:
        return self.terms.periodicity

    @property
    def installments(self) -> int:
        return self.terms.installments

    @property
    def period_months(self) -> int:
        return self.terms.period_months

    @property
    def policy(self) -> RetryPolicy:
        return self.terms.retry_policy

    @property
    def current_period_start(self) -> datetime | None:
        if self.cycle == 0:
            return self.started_at if self.trial_ends_at else None
        return self.period_start

    @property
    def current_period_end(self) -> datetime | None:
        if self.cycle == 0:
            return self.trial_ends_at
        return self.anchor.cycle_end(self.period_months)

    def _next_installment(self) -> NextInstallment:
        renewal_terms = self.pending_terms if self.pending_terms is not None else self.terms
        return next_installment(
            cycle=self.cycle, paid_in_cycle=self.paid_in_cycle, terms=self.terms, renewal_terms=renewal_terms, anchor=self.anchor
        )

    @property
    def next_charge_at(self) -> datetime | None:
        if self.status in ("cancelled", "inactive") or self.boleto is not None:
            return None
        if self.retry is not None:
            return self.retry.next_retry_at
        due = self._next_installment()
        if self._renewal_blocked_by_cancellation(due.cycle):
            return None
        return due.due_at

    def _renewal_blocked_by_cancellation(self, cycle: int) -> bool:
        return self.cancel_at is not None and cycle > self.cycle

    def compute_next_due_at(self) -> datetime | None:
        """When the scheduler should next look at this subscription (None: nothing will fall due)."""
        candidates: list[datetime] = self.refund_book.due_times()  # refunds in flight, even on a cancelled subscription
        if self.inflight is not None:
            candidates.append(self.inflight.at)
        if self.status == "cancelled":
            return min(candidates) if candidates else None
        if self.cancel_at is not None:
            candidates.append(self.cancel_at)
        if self.boleto is not None:
            candidates.append(self.boleto.expires_at)
        elif self.inflight is None and self.status != "inactive":
            if self.retry is not None:
                candidates.append(self.retry.next_retry_at or self.retry.window_ends_at)
            else:
                due = self.next_charge_at
                if due is not None:
                    candidates.append(due)
        # A notice's moment may already be past (a billing day moved closer, a trial of three days or less):
        # the scheduler runs whatever is due at or before its clock, so that means at once.
        reminder = self._renewal_reminder_owed()
        if reminder is not None:
            candidates.append(reminder.due_at)
        if self._trial_ending_notice_owed():
            assert self.trial_ends_at is not None
            candidates.append(trial_ending_notice_at(self.trial_ends_at))
        return min(candidates) if candidates else None

    def _reschedule(self, at: datetime, actor: Actor) -> None:
        due = self.compute_next_due_at()
        if due != self.next_due_at:
            self._rescheduled(next_due_at=due, at=at, actor=actor)

    @event(Rescheduled)
    def _rescheduled(self, next_due_at: datetime | None, at: datetime | None, actor: Actor) -> None:
        self.next_due_at = next_due_at

    # -------------------------------------------------------------- charging
    def begin_charge(self, at: datetime, actor: Actor, *, reprocess: bool = False) -> ChargeRequest | None:
        """Record a charge attempt if one is due at `at`; None when nothing is to be charged."""
        if reprocess and self.status == "cancelled":
            raise InvalidStateError("a cancelled subscription cannot be reprocessed")
        if self.inflight is not None or self.status == "cancelled" or self.boleto is not None:
            return None
        due = self._next_installment()
        if reprocess:
            if self.status not in ("past_due", "inactive") and not (self.status == "pending" and self.retry is not None):
                raise InvalidStateError(f"only a past_due or inactive subscription can be reprocessed, not {self.status}")
        elif self.status == "inactive":
            return None
        elif self.retry is not None:
            if not self.retry.is_due(at):
                return None
        elif at < due.due_at or self._renewal_blocked_by_cancellation(due.cycle):
            return None
        attempt = self.attempts_on_installment + 1
        key = idempotency_key(self.id, due.cycle, due.installment, attempt)
        method = self.payment_method["type"]
        self._charge_attempted(
            key=key,
            plan_id=due.terms.plan_id,
            due_at=due.due_at,
            cycle=due.cycle,
            installment=due.installment,
            installments=due.terms.installments,
            amount=due.amount.amount,
            currency=due.amount.currency,
            method=method,
            attempt=attempt,
            is_retry=self.retry is not None,
            reprocess=reprocess,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return ChargeRequest(key, method, self.payment_method.get("token"), due.amount, due.cycle, due.installment)

    def pending_charge(self) -> ChargeRequest | None:
        """The attempt recorded but not yet resolved (after a crash, the scheduler resolves it)."""
        if self.inflight is None:
            return None
        return self.inflight.request(self.payment_method.get("token"))

    @event(ChargeAttempted)
    def _charge_attempted(
        self,
        key: str,
        plan_id: str | None,
        due_at: datetime,
        cycle: int,
        installment: int,
        installments: int,
        amount: int,
        currency: str,
        method: str,
        attempt: int,
        is_retry: bool,
        reprocess: bool,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.attempts_on_installment = attempt
        self.inflight = Attempt(
            key=key,
            cycle=cycle,
            installment=installment,
            installments=installments,
            amount=Money(amount, currency),
            method=method,
            reprocess=reprocess,
            at=at,
            new_terms=self.pending_terms if cycle > self.cycle else None,
        )

    def _check_inflight(self, key: str) -> Attempt:
        if self.inflight is None or self.inflight.key != key:
            raise InvalidStateError(f"no charge attempt {key} is awaiting its result")
        return self.inflight

    def record_charge_approved(self, key: str, gateway_charge_id: str, at: datetime, actor: Actor) -> None:
        """The gateway approved: the installment is paid, the subscription (re)activates."""
        attempt = self._check_inflight(key)
        self._settle_paid(attempt, gateway_charge_id, at, actor)

    def _settle_paid(self, attempt: Attempt, gateway_charge_id: str, at: datetime, actor: Actor) -> None:
        opens_cycle = attempt.cycle > self.cycle
        # A retry that succeeds moves the anchor if the plan says so; a charge that brings an inactive
        # subscription back always does: the months it spent inactive are not billed afterwards.
        restarts = (self.retry is not None and self.policy.reset_billing_date) or self.status == "inactive"
        if restarts:
            anchor = BillingAnchor.restarted_on(at, attempt.installment)
        elif not opens_cycle:
            anchor = self.anchor
        elif self.cycle == 0:
            anchor = self.anchor.first_cycle()
        else:
            anchor = self.anchor.next_cycle(self.period_months)
        new_terms = attempt.new_terms if opens_cycle else None
        self._charge_succeeded(
            key=attempt.key,
            gateway_charge_id=gateway_charge_id,
            **attempt.outcome_fields(),
            new_terms=new_terms.as_dict() if new_terms is not None else None,
            anchor=anchor.date,
            cycle_offset=anchor.cycle_offset,
            period_start=anchor.cycle_start if opens_cycle or restarts else self.period_start,
            status="cancelled" if self.status == "cancelled" else "active",
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)

    @event(ChargeSucceeded)
    def _charge_succeeded(
        self,
        key: str,
        gateway_charge_id: str,
        cycle: int,
        installment: int,
        installments: int,
        amount: int,
        currency: str,
        method: str,
        new_terms: dict[str, Any] | None,
        anchor: datetime,
        cycle_offset: int,
        period_start: datetime | None,
        status: str,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.unpaid_boletos = {k: b for k, b in self.unpaid_boletos.items() if not b.is_for(cycle, installment)}
        if new_terms is not None:
            self.terms = PlanTerms.from_dict(new_terms)
            self.pending_terms = None
        if cycle > self.cycle:
            self.cycle = cycle
            self.paid_in_cycle = 0
        self.paid_in_cycle = installment
        self.anchor = BillingAnchor(anchor, cycle_offset)
        self.period_start = period_start if period_start is not None else self.anchor.cycle_start
        self.paid_recurrences += 1
        self.total_paid += amount
        self.paid_charges[key] = PaidCharge(key, gateway_charge_id, Money(amount, currency), cycle, installment, method, at)
        self.attempts_on_installment = 0
        self.inflight = None
        self.retry = None
        self.status = status

    def record_charge_refused(self, key: str, reason: str, at: datetime, actor: Actor) -> None:
        """The gateway refused: schedule a retry inside the window, or stop billing after the last."""
        attempt = self._check_inflight(key)
        policy = self.policy
        hard = is_hard_decline(reason)
        retry: RetryState | None
        if self.status == "cancelled":
            status, retry = "cancelled", None
        elif attempt.reprocess and self.status == "inactive":
            status, retry = "inactive", None
        elif self.retry is None:
            status = "pending" if self.cycle == 0 and self.trial_ends_at is None else "past_due"
            retry = RetryState.first_refusal(policy, at)
        else:
            status, retry = self.status, self.retry
        self._charge_failed(key=key, **attempt.outcome_fields(), reason=reason, hard_decline=hard, status=status, at=at, actor=actor)
        if retry is not None and not attempt.reprocess:
            following = retry.after_refusal(policy, hard)
            if following is None:
                self._retries_exhausted(attempts=retry.attempt, at=at, actor=actor)
            else:
                self._record_retry(following, at, actor)
        elif retry is not None and hard and not retry.waiting_for_new_payment_method:
            # A reprocess met a dead card: the scheduled retries would only meet it again.
            self._record_retry(retry.paused(), at, actor)
        self._reschedule(at, actor)

    def _record_retry(self, retry: RetryState, at: datetime, actor: Actor) -> None:
        self._retry_scheduled(
            attempt=retry.attempt,
            max_retries=retry.max_retries,
            next_retry_at=retry.next_retry_at,
            first_refusal_at=retry.first_refusal_at,
            window_ends_at=retry.window_ends_at,
            waiting_for_new_payment_method=retry.waiting_for_new_payment_method,
            at=at,
            actor=actor,
        )

    @event("ChargeFailed")
    def _charge_failed(
        self,
        key: str,
        cycle: int,
        installment: int,
        installments: int,
        amount: int,
        currency: str,
        method: str,
        reason: str,
        hard_decline: bool,
        status: str,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.inflight = None
        self.status = status

    @event("RetryScheduled")
    def _retry_scheduled(
        self,
        attempt: int,
        max_retries: int,
        next_retry_at: datetime | None,
        first_refusal_at: datetime,
        window_ends_at: datetime,
        waiting_for_new_payment_method: bool,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.retry = RetryState(attempt, max_retries, next_retry_at, first_refusal_at, window_ends_at)

    @event("RetriesExhausted")
    def _retries_exhausted(self, attempts: int, at: datetime, actor: Actor) -> None:
        self.status = "inactive"
        self.retry = None

    # ---------------------------------------------------------------- boleto
    def record_boleto_issued(self, key: str, boleto_id: str, line: str, at: datetime, actor: Actor) -> None:
        attempt = self._check_inflight(key)
        expires_at = boleto_expiry(at)
        self._boleto_issued(
            key=key,
            boleto_id=boleto_id,
            line=line,
            amount=attempt.amount.amount,
            currency=attempt.amount.currency,
            cycle=attempt.cycle,
            installment=attempt.installment,
            installments=attempt.installments,
            due_date=expires_at.date().isoformat(),
            expires_at=expires_at,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)

    @event("BoletoIssued")
    def _boleto_issued(
        self,
        key: str,
        boleto_id: str,
        line: str,
        amount: int,
        currency: str,
        cycle: int,
        installment: int,
        installments: int,
        due_date: str,
        expires_at: datetime,
        at: datetime,
        actor: Actor,
    ) -> None:
        assert self.inflight is not None  # recorded only for the attempt in flight: the boleto holds it until paid
        self.boleto = Boleto(boleto_id, line, Money(amount, currency), due_date, expires_at, self.inflight)
        # A new boleto for an installment voids any earlier, expired one for it.
        self.unpaid_boletos = {k: b for k, b in self.unpaid_boletos.items() if not b.is_for(cycle, installment)}
        self.unpaid_boletos[boleto_id] = self.boleto
        self.inflight = None

    def record_boleto_paid(self, boleto_id: str, at: datetime, actor: Actor) -> None:
        """The bank reports the boleto paid: the installment it was issued for is paid.

        Money the bank received is always recorded: a boleto paid after it expired reactivates the
        subscription (billing restarts from that day), one paid after a cancellation is recorded and the
        subscription stays cancelled. Only a boleto voided by a later payment of its installment (or by a
        newer boleto for it) is refused.
        """
        boleto = self.unpaid_boletos.get(boleto_id)
        if boleto is None:
            raise InvalidStateError(f"boleto {boleto_id} is not payable: it was paid or voided")
        if self.inflight is not None and boleto.is_for(self.inflight.cycle, self.inflight.installment):
            raise InvalidStateError("a card charge for this installment is in progress; retry shortly")
        self._boleto_paid(boleto_id=boleto_id, amount=boleto.amount.amount, currency=boleto.amount.currency, at=at, actor=actor)
        self._settle_paid(boleto.attempt, f"boleto:{boleto_id}", at, actor)

    @event("BoletoPaid")
    def _boleto_paid(self, boleto_id: str, amount: int, currency: str, at: datetime, actor: Actor) -> None:
        if self.boleto is not None and self.boleto.id == boleto_id:
            self.boleto = None
        self.unpaid_boletos.pop(boleto_id, None)

    def expire_boleto(self, at: datetime, actor: Actor) -> bool:
        """An unpaid boleto past its due date expires and billing stops until reprocessed.

        We do not chase a customer with a new boleto every few days: an expired boleto makes the
        subscription `inactive`; `reprocess` (or a card) restarts billing.
        """
        if self.boleto is None or not self.boleto.expired(at):
            return False
        boleto = self.boleto
        self._boleto_expired(
            boleto_id=boleto.id,
            amount=boleto.amount.amount,
            currency=boleto.amount.currency,
            cycle=boleto.attempt.cycle,
            installment=boleto.attempt.installment,
            status="cancelled" if self.status == "cancelled" else "inactive",
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return True

    @event("BoletoExpired")
    def _boleto_expired(
        self, boleto_id: str, amount: int, currency: str, cycle: int, installment: int, status: str, at: datetime, actor: Actor
    ) -> None:
        self.boleto = None
        self.status = status
        self.retry = None

    # ----------------------------------------------------- retries and scheduling
    def exhaust_retries_if_window_closed(self, at: datetime, actor: Actor) -> bool:
        """A retry paused by a hard decline ends with the window if no new card arrived."""
        retry = self.retry
        if retry is None or not retry.waiting_for_new_payment_method or self.inflight is not None:
            return False
        if not retry.window_closed(at):
            return False
        self._retries_exhausted(attempts=retry.attempt, at=at, actor=actor)
        self._reschedule(at, actor)
        return True

    # ------------------------------------------------------------- changes
    def change_plan(self, terms: PlanTerms, product_id: str, at: datetime, actor: Actor) -> None:
        """Switch plan at the next renewal: the next cycle is billed with the new price and period.

        Before the first charge is under way (no attempt, boleto or retry yet) it applies at once.
        A renewal already being charged keeps the terms it was priced with.
        """
        self._check_not_cancelled()
        if product_id != self.product_id:
            raise RuleViolationError("the new plan must belong to the same product", "plan_id")
        if terms.plan_id == self.plan_id and terms.offer_id == self.offer_id and self.pending_terms is None:
            raise InvalidStateError("the subscription is already on this plan")
        new_terms = replace(terms, installments=min(self.installments, terms.period_months))
        applies_now = self.cycle == 0 and self.inflight is None and self.boleto is None and self.retry is None
        effective_at = at if applies_now else (self.current_period_end or self._next_installment().due_at)
        self._plan_changed(
            from_plan_id=self.plan_id,
            terms=new_terms.as_dict(),
            applies_now=applies_now,
            effective_at=effective_at,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)

    @event(PlanChanged)
    def _plan_changed(
        self, from_plan_id: str, terms: dict[str, Any], applies_now: bool | None, effective_at: datetime, at: datetime, actor: Actor
    ) -> None:
        if applies_now is None:  # recorded by version 1
            applies_now = self.cycle == 0
        if applies_now:
            self.terms = PlanTerms.from_dict(terms)
            self.pending_terms = None
        else:
            self.pending_terms = PlanTerms.from_dict(terms)

    def change_payment_method(self, payment_method: dict[str, Any], at: datetime, actor: Actor) -> None:
        """A new card or boleto. A subscription waiting on a dead card is retried right away, if its
        retry window is still open."""
        self._check_not_cancelled()
        self._check_not_erased()
        self.exhaust_retries_if_window_closed(at, actor)
        self._payment_method_changed(payment_method=payment_method, at=at, actor=actor)
        if self.retry is not None and self.retry.waiting_for_new_payment_method and self.inflight is None:
            self._record_retry(self.retry.resumed(at), at, actor)
        self._reschedule(at, actor)

    @event("PaymentMethodChanged")
    def _payment_method_changed(self, payment_method: dict[str, Any], at: datetime, actor: Actor) -> None:
        self.payment_method = payment_method

    def change_billing_day(self, day: int, at: datetime, actor: Actor) -> None:
        """Move the next charges to `day` of the month; the current period stretches or shrinks to it."""
        if not 1 <= day <= 28:
            raise RuleViolationError("day must be between 1 and 28", "day")
        self._check_not_cancelled()
        if self.status != "active" or self.inflight is not None:
            raise InvalidStateError(
                f"the billing day can be changed on an active subscription with no charge in progress (it is {self.status})"
            )
        anchor = anchor_on_billing_day(self._next_installment(), day, at, self.period_months)
        self._billing_day_changed(
            day=day, anchor=anchor.date, cycle_offset=anchor.cycle_offset, next_charge_at=anchor.date, at=at, actor=actor
        )
        self._reschedule(at, actor)

    @event("BillingDayChanged")
    def _billing_day_changed(
        self, day: int, anchor: datetime, cycle_offset: int, next_charge_at: datetime, at: datetime, actor: Actor
    ) -> None:
        self.anchor = BillingAnchor(anchor, cycle_offset)

    # ------------------------------------------------------------ refunds and disputes
    @property
    def refund_book(self) -> RefundBook:
        return RefundBook(self.paid_charges, self.refunds, self.disputes)

    def begin_refund(
        self, at: datetime, actor: Actor, *, charge_id: str | None = None, amount: Money | None = None, reason: str | None = None
    ) -> RefundRequest:
        """Record a refund before the gateway is called: by default the last approved charge, all that is left of it.

        The amount is reserved against the charge until the gateway answers, so two refunds can never return more
        than was paid. Allowed on a cancelled subscription: a refund is about money already taken.
        """
        book = self.refund_book
        charge, money = book.plan_refund(charge_id, amount)
        new_id = refund_id(self.id, book.next_refund_number())
        self._refund_requested(
            refund_id=new_id,
            key=new_id,
            charge_id=charge.key,
            gateway_charge_id=charge.gateway_charge_id,
            amount=money.amount,
            currency=money.currency,
            reason=reason,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return self.refunds[new_id].request()

    @event("RefundRequested")
    def _refund_requested(
        self,
        refund_id: str,
        key: str,
        charge_id: str,
        gateway_charge_id: str,
        amount: int,
        currency: str,
        reason: str | None,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.refunds[refund_id] = Refund(refund_id, key, charge_id, gateway_charge_id, Money(amount, currency), reason, "requested", at)

    def refunds_due(self, at: datetime) -> list[RefundRequest]:
        """Refunds to ask the gateway about now, with their keys: answers that never came, pending ones due a recheck."""
        return [refund.request() for refund in self.refund_book.due(at) if refund.key is not None]

    def _refund_in_flight(self, refund_id: str) -> Refund | None:
        refund = self.refunds.get(refund_id)
        return refund if refund is not None and refund.in_flight else None

    def record_refund_succeeded(self, refund_id: str, gateway_refund_id: str | None, at: datetime, actor: Actor) -> bool:
        """The gateway refunded; False when this refund's outcome was already recorded (by another process)."""
        refund = self._refund_in_flight(refund_id)
        if refund is None:
            return False
        self._record_refunded(refund, gateway_refund_id or refund.gateway_refund_id, external=False, at=at, actor=actor)
        return True

    def record_refund_pending(self, refund_id: str, gateway_refund_id: str | None, at: datetime, actor: Actor) -> bool:
        """The gateway has not finished: the amount stays reserved and recur asks again later."""
        refund = self._refund_in_flight(refund_id)
        if refund is None or (refund.status == "pending" and refund.recheck_at is not None and refund.recheck_at > at):
            return False  # settled, or another process just heard the same answer
        self._refund_pending(
            refund_id=refund_id,
            gateway_refund_id=gateway_refund_id or refund.gateway_refund_id,
            recheck_at=at + PENDING_REFUND_RECHECK,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return True

    @event("RefundPending")
    def _refund_pending(self, refund_id: str, gateway_refund_id: str | None, recheck_at: datetime, at: datetime, actor: Actor) -> None:
        self.refunds[refund_id] = replace(self.refunds[refund_id], status="pending", gateway_refund_id=gateway_refund_id,
                                          recheck_at=recheck_at)

    def record_refund_failed(self, refund_id: str, reason: str, at: datetime, actor: Actor) -> bool:
        """The gateway refused: the amount is free to refund again."""
        refund = self._refund_in_flight(refund_id)
        if refund is None:
            return False
        self._refund_failed(
            refund_id=refund_id,
            charge_id=refund.charge_key,
            amount=refund.amount.amount,
            currency=refund.amount.currency,
            reason=reason,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return True

    @event("RefundFailed")
    def _refund_failed(self, refund_id: str, charge_id: str, amount: int, currency: str, reason: str, at: datetime, actor: Actor) -> None:
        self.refunds[refund_id] = replace(self.refunds[refund_id], status="failed", failure_reason=reason, settled_at=at,
                                          recheck_at=None)

    def record_external_refund(self, gateway_charge_id: str, gateway_refund_id: str, amount: Money, at: datetime, actor: Actor) -> bool:
        """A refund made at the gateway (its dashboard) or the gateway's word that a pending refund went through.

        Idempotent by the gateway's refund id: one already recorded as succeeded or failed is ignored (False); a
        pending refund of recur's that it names is settled as succeeded. The money has already moved, so it is
        recorded even beyond what recur thought was left.
        """
        known = self.refund_book.refund_named_at_gateway(gateway_refund_id)
        if known is not None:
            if not known.in_flight:
                return False
            self._record_refunded(known, gateway_refund_id, external=False, at=at, actor=actor)
            return True
        charge = self._charge_paid_as(gateway_charge_id)
        if amount.currency != charge.amount.currency:
            raise RuleViolationError(f"the charge was paid in {charge.amount.currency}, not {amount.currency}", "currency")
        if amount.amount < 1:
            raise RuleViolationError("a refund is at least 1 minor unit", "amount")
        refund = Refund(refund_id(self.id, self.refund_book.next_refund_number()), None, charge.key, charge.gateway_charge_id, amount,
                        None, "requested", at)
        self._record_refunded(refund, gateway_refund_id, external=True, at=at, actor=actor)
        return True

    def _charge_paid_as(self, gateway_charge_id: str) -> PaidCharge:
        charge = self.refund_book.charge_paid_as(gateway_charge_id)
        if charge is None:
            # Perhaps its approval is not recorded yet (a charge in flight): the gateway redelivers, and then it is.
            raise InvalidStateError(f"no approved charge {gateway_charge_id} is recorded on this subscription (yet)")
        return charge

    def _record_refunded(self, refund: Refund, gateway_refund_id: str | None, *, external: bool, at: datetime, actor: Actor) -> None:
        charge = self.paid_charges[refund.charge_key]
        self._charge_refunded(
            refund_id=refund.id,
            charge_id=charge.key,
            gateway_charge_id=charge.gateway_charge_id,
            gateway_refund_id=gateway_refund_id,
            amount=refund.amount.amount,
            currency=refund.amount.currency,
            fully_refunded=charge.returned + refund.amount.amount >= charge.amount.amount,
            reason=refund.reason,
            external=external,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)

    @event("ChargeRefunded")
    def _charge_refunded(
        self,
        refund_id: str,
        charge_id: str,
        gateway_charge_id: str,
        gateway_refund_id: str | None,
        amount: int,
        currency: str,
        fully_refunded: bool,
        reason: str | None,
        external: bool,
        at: datetime,
        actor: Actor,
    ) -> None:
        settled = Refund(refund_id, None, charge_id, gateway_charge_id, Money(amount, currency), reason, "succeeded", at)
        requested = self.refunds.get(refund_id)
        self.refunds[refund_id] = replace(requested or settled, status="succeeded", gateway_refund_id=gateway_refund_id,
                                          settled_at=at, recheck_at=None)
        charge = self.paid_charges[charge_id]
        self.paid_charges[charge_id] = replace(charge, refunded=charge.refunded + amount)
        self.total_paid -= amount
        self.total_refunded += amount

    def record_dispute_opened(
        self, gateway_charge_id: str, dispute_id: str, amount: Money, reason: str | None, at: datetime, actor: Actor
    ) -> bool:
        """The buyer disputed a charge with their issuer; False when this dispute is already recorded."""
        if dispute_id in self.disputes:
            return False
        charge = self._charge_paid_as(gateway_charge_id)
        if amount.currency != charge.amount.currency:
            raise RuleViolationError(f"the charge was paid in {charge.amount.currency}, not {amount.currency}", "currency")
        self._charge_disputed(
            dispute_id=dispute_id,
            charge_id=charge.key,
            gateway_charge_id=charge.gateway_charge_id,
            amount=amount.amount,
            currency=amount.currency,
            reason=reason,
            at=at,
            actor=actor,
        )
        return True

    @event("ChargeDisputed")
    def _charge_disputed(
        self,
        dispute_id: str,
        charge_id: str,
        gateway_charge_id: str,
        amount: int,
        currency: str,
        reason: str | None,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.disputes[dispute_id] = Dispute(dispute_id, charge_id, Money(amount, currency), reason, at)

    def record_dispute_closed(
        self, dispute_id: str, outcome: str, at: datetime, actor: Actor, *, gateway_charge_id: str | None = None
    ) -> bool:
        """The issuer decided. A lost dispute is money gone back to the buyer, like a refund; False when already closed.

        A dispute closed before it was recorded as opened is refused (gateways do not promise order): the gateway
        delivers it again, after the opening.
        """
        if outcome not in DISPUTE_OUTCOMES:
            raise RuleViolationError(f"outcome must be one of {', '.join(DISPUTE_OUTCOMES)}", "outcome")
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise InvalidStateError(f"dispute {dispute_id} was never opened on this subscription")
        if gateway_charge_id is not None and self.paid_charges[dispute.charge_key].gateway_charge_id != gateway_charge_id:
            raise RuleViolationError(f"dispute {dispute_id} is not about charge {gateway_charge_id}", "gateway_charge_id")
        if not dispute.open:
            return False
        self._dispute_closed(
            dispute_id=dispute_id,
            charge_id=dispute.charge_key,
            outcome=outcome,
            amount=dispute.amount.amount,
            currency=dispute.amount.currency,
            at=at,
            actor=actor,
        )
        return True

    @event("DisputeClosed")
    def _dispute_closed(
        self, dispute_id: str, charge_id: str, outcome: str, amount: int, currency: str, at: datetime, actor: Actor
    ) -> None:
        self.disputes[dispute_id] = replace(self.disputes[dispute_id], outcome=outcome, closed_at=at)
        if outcome == "lost":
            charge = self.paid_charges[charge_id]
            self.paid_charges[charge_id] = replace(charge, lost_to_disputes=charge.lost_to_disputes + amount)
            self.total_paid -= amount
            self.total_refunded += amount

    # ------------------------------------------------------------ erasure of personal data
    def erase_subscriber(self, at: datetime, actor: Actor) -> bool:
        """The subscriber asked to be forgotten: their name, e-mail, country and card brand/last4 read null from now
        on (the event store destroys the data key the stored events were encrypted with). Amounts, dates and statuses
        stay. False when already erased (a repeated request changes nothing)."""
        if self.erased:
            return False
        self._subscriber_erased(at=at, actor=actor)
        return True

    @event("SubscriberErased")
    def _subscriber_erased(self, at: datetime, actor: Actor) -> None:
        self.erased = True
        self.subscriber = {key: None for key in self.subscriber}
        self.payment_method = {key: (None if key in ("brand", "last4") else value) for key, value in self.payment_method.items()}

    def _check_not_erased(self) -> None:
        if self.erased:
            raise InvalidStateError("the subscriber's personal data was erased: a new payment method needs a new subscription")

    # ------------------------------------------------------------ cancellation
    def _check_not_cancelled(self) -> None:
        if self.status == "cancelled":
            raise InvalidStateError("the subscription is cancelled")

    def cancel(self, origin: str, reason: str | None, when: str, at: datetime, actor: Actor) -> None:
        """Cancel now, or at the end of the paid (or trial) period."""
        if origin not in ORIGINS:
            raise RuleViolationError(f"origin must be one of {', '.join(ORIGINS)}", "origin")
        self._check_not_cancelled()
        if when not in ("now", "period_end"):
            raise RuleViolationError("when must be now or period_end", "when")
        period_end = self.current_period_end if self.status in ("active", "trialing") else None
        if when == "period_end" and period_end is not None and period_end > at:
            if self.cancel_at is not None:
                raise InvalidStateError(f"a cancellation is already scheduled for {self.cancel_at.isoformat()}")
            self._cancellation_scheduled(origin=origin, reason=reason, cancel_at=period_end, at=at, actor=actor)
        else:
            self._cancelled(origin=origin, reason=reason, at=at, actor=actor)
        self._reschedule(at, actor)

    def complete_scheduled_cancellation(self, at: datetime, actor: Actor) -> bool:
        if self.cancel_at is None or self.status == "cancelled" or at < self.cancel_at:
            return False
        assert self.scheduled_cancellation is not None
        scheduled = self.scheduled_cancellation
        self._cancelled(origin=scheduled.origin, reason=scheduled.reason, at=self.cancel_at, actor=actor)
        self._reschedule(at, actor)
        return True

    @event("CancellationScheduled")
    def _cancellation_scheduled(self, origin: str, reason: str | None, cancel_at: datetime, at: datetime, actor: Actor) -> None:
        self.cancel_at = cancel_at
        self.scheduled_cancellation = Cancellation(origin, reason)

    @event("Cancelled")
    def _cancelled(self, origin: str, reason: str | None, at: datetime, actor: Actor) -> None:
        self.status = "cancelled"
        self.cancelled_at = at
        self.cancellation = Cancellation(origin, reason)
        self.cancel_at = None
        self.retry = None
        self.boleto = None

    # ------------------------------------------------------------------ notices
    def _renewal_reminder_owed(self) -> RenewalReminder | None:
        """The reminder of the coming renewal, while one is owed.

        Only a true renewal of a paid, healthy subscription: status `active` (so at least one cycle is paid:
        never the first charge) and the next installment opening the next cycle (with smart installments, the
        cycle's renewal rather than each monthly installment), no cancellation scheduled, nothing being
        charged or waiting on a boleto, and none given for that cycle yet. The renewal's own terms (a pending
        plan change's) say how many days ahead, if at all. Derived from the next installment, it follows a
        billing-day or plan change made before it was given; once given, that cycle gets no second one.
        """
        if self.status != "active" or self.cancel_at is not None or self.inflight is not None or self.boleto is not None:
            return None
        renewal = self._next_installment()
        if renewal.cycle <= self.cycle or renewal.cycle <= self.reminded_cycle:
            return None
        return renewal_reminder(renewal)

    def _trial_ending_notice_owed(self) -> bool:
        """A trial not set to end in a cancellation is announced once, before its first charge is under way."""
        return (
            self.status == "trialing"
            and not self.trial_ending_announced
            and self.trial_ends_at is not None
            and self.cancel_at is None
            and self.inflight is None
            and self.boleto is None
        )

    def announce_due_notices(self, at: datetime, actor: Actor) -> bool:
        """Record the notices whose moment has come by `at`; True when one was recorded.

        Each records what the subscriber will be told (the charge to come, priced as it will be), and then
        no longer counts in `next_due_at`, which moves on to the next thing due.
        """
        announced = False
        reminder = self._renewal_reminder_owed()
        if reminder is not None and at >= reminder.due_at:
            renewal = reminder.renewal
            self._renewal_upcoming(
                cycle=renewal.cycle,
                renews_at=renewal.due_at,
                amount=renewal.amount.amount,
                currency=renewal.amount.currency,
                installments=renewal.terms.installments,
                plan_id=renewal.terms.plan_id,
                days_before=reminder.days_before,
                at=at,
                actor=actor,
            )
            announced = True
        if self._trial_ending_notice_owed():
            assert self.trial_ends_at is not None
            if at >= trial_ending_notice_at(self.trial_ends_at):
                first_charge = self._next_installment().amount
                self._trial_ending_soon(
                    trial_ends_at=self.trial_ends_at, amount=first_charge.amount, currency=first_charge.currency, at=at, actor=actor
                )
                announced = True
        if announced:
            self._reschedule(at, actor)
        return announced

    @event("RenewalUpcoming")
    def _renewal_upcoming(
        self,
        cycle: int,
        renews_at: datetime,
        amount: int,
        currency: str,
        installments: int,
        plan_id: str,
        days_before: int,
        at: datetime,
        actor: Actor,
    ) -> None:
        self.reminded_cycle = cycle

    @event("TrialEndingSoon")
    def _trial_ending_soon(self, trial_ends_at: datetime, amount: int, currency: str, at: datetime, actor: Actor) -> None:
        self.trial_ending_announced = True

    # --------------------------------------------------------------- the scheduler's entry point
    def settle_due_housekeeping(self, at: datetime, actor: Actor) -> bool:
        """Everything due at `at` that needs no gateway: cancellations, boleto expiry, closed windows, notices.

        Notices come last, so a cancellation or an expiry due at the same instant silences them, and before
        any charge the caller then makes, so a reminder due at the charge's instant still precedes it.
        """
        done = self.complete_scheduled_cancellation(at, actor)
        done = self.expire_boleto(at, actor) or done
        done = self.exhaust_retries_if_window_closed(at, actor) or done
        done = self.announce_due_notices(at, actor) or done
        return done
