"""The subscription: its lifecycle, billing dates, charges, retries and cancellation.

Every public method validates and decides (dates, amounts, the next status); the private
`@event` methods only assign, because their bodies re-run on every replay. Time always comes in
as an argument (`at`): the domain never reads a clock.

Charges are two-phase so that a crash or a second scheduler can never charge an installment
twice: `begin_charge` records `ChargeAttempted` with the gateway idempotency key (optimistic
concurrency lets only one process record it), the gateway is called with that key, and the
result is recorded against the same key. A repeated call with the key returns the first result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from recur.domain.actor import Actor
from recur.domain.calendar import PERIOD_MONTHS, add_months, next_occurrence_of_day
from recur.domain.errors import InvalidStateError, RuleViolationError
from recur.domain.money import Money
from recur.domain.retry import RetryPolicy, is_hard_decline

BOLETO_DAYS_TO_PAY = 3
ORIGINS = ("customer", "seller", "admin")


@dataclass(frozen=True)
class PlanTerms:
    """What a subscription locks from the catalog when it starts or changes plan."""

    plan_id: str
    offer_id: str | None
    price: Money
    periodicity: str
    installments: int
    retry_policy: RetryPolicy
    renewal_reminder_days: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "offer_id": self.offer_id,
            "price": self.price.as_dict(),
            "periodicity": self.periodicity,
            "installments": self.installments,
            "retry_policy": self.retry_policy.as_dict(),
            "renewal_reminder_days": self.renewal_reminder_days,
        }


@dataclass(frozen=True)
class ChargeRequest:
    """A charge the gateway must make, identified by its idempotency key."""

    key: str
    method: str
    token: str | None
    amount: Money
    cycle: int
    installment: int


def charge_fields(attempt: dict[str, Any]) -> dict[str, Any]:
    """What every charge outcome event repeats from its attempt."""
    return {k: attempt[k] for k in ("cycle", "installment", "installments", "amount", "currency", "method")}


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
        trial_ends_at = at + timedelta(days=trial_days) if trial_days > 0 else None
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
        self._assign_terms(terms)
        self.subscriber = subscriber
        self.payment_method = payment_method
        self.subscriber_token_hash = subscriber_token_hash
        self.status = "pending"
        self.started_at = started_at
        self.trial_ends_at: datetime | None = None
        self.anchor = first_charge_at
        self.cycle_offset = 0
        self.period_start: datetime | None = None
        self.cycle = 0
        self.paid_in_cycle = 0
        self.paid_recurrences = 0
        self.total_paid = 0
        self.attempts_on_installment = 0
        self.inflight: dict[str, Any] | None = None
        self.retry: dict[str, Any] | None = None
        self.boleto: dict[str, Any] | None = None
        self.pending_terms: dict[str, Any] | None = None
        self.unpaid_boletos: dict[str, dict[str, Any]] = {}
        self.cancel_at: datetime | None = None
        self.scheduled_cancellation: dict[str, Any] | None = None
        self.cancelled_at: datetime | None = None
        self.cancellation: dict[str, Any] | None = None
        self.next_due_at: datetime | None = None

    def _assign_terms(self, terms: dict[str, Any]) -> None:
        self.plan_id = terms["plan_id"]
        self.offer_id = terms["offer_id"]
        self.price = terms["price"]
        self.periodicity = terms["periodicity"]
        self.installments = terms["installments"]
        self.retry_policy = terms["retry_policy"]
        self.renewal_reminder_days = terms.get("renewal_reminder_days")

    @event("TrialStarted")
    def _trial_started(self, trial_ends_at: datetime, at: datetime, actor: Actor) -> None:
        self.status = "trialing"
        self.trial_ends_at = trial_ends_at

    # ------------------------------------------------------------ derived views
    @property
    def period_months(self) -> int:
        return PERIOD_MONTHS[self.periodicity]

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy.from_dict(self.retry_policy)

    @property
    def current_period_start(self) -> datetime | None:
        if self.cycle == 0:
            return self.started_at if self.trial_ends_at else None
        return self.period_start

    @property
    def current_period_end(self) -> datetime | None:
        if self.cycle == 0:
            return self.trial_ends_at
        return add_months(self.anchor, self.cycle_offset + self.period_months)

    def _target(self) -> tuple[int, int, Money, datetime]:
        """The next unpaid installment: (cycle, installment, amount, due date)."""
        if self.cycle >= 1 and self.paid_in_cycle < self.installments:
            amounts = Money.from_dict(self.price).split(self.installments)
            due = add_months(self.anchor, self.cycle_offset + self.paid_in_cycle)
            return self.cycle, self.paid_in_cycle + 1, amounts[self.paid_in_cycle], due
        terms = self.pending_terms or {"price": self.price, "installments": self.installments}
        amount = Money.from_dict(terms["price"]).split(terms["installments"])[0]
        if self.cycle == 0:
            return 1, 1, amount, self.anchor
        due = add_months(self.anchor, self.cycle_offset + self.period_months)
        return self.cycle + 1, 1, amount, due

    @property
    def next_charge_at(self) -> datetime | None:
        if self.status in ("cancelled", "inactive") or self.boleto is not None:
            return None
        if self.retry is not None:
            return self.retry.get("next_retry_at")
        cycle, _, _, due = self._target()
        if self._renewal_blocked_by_cancellation(cycle):
            return None
        return due

    def _renewal_blocked_by_cancellation(self, cycle: int) -> bool:
        return self.cancel_at is not None and cycle > self.cycle

    def compute_next_due_at(self) -> datetime | None:
        """When the scheduler should next look at this subscription (None: nothing will fall due)."""
        candidates: list[datetime] = []
        if self.inflight is not None:
            candidates.append(self.inflight["at"])
        if self.status == "cancelled":
            return min(candidates) if candidates else None
        if self.cancel_at is not None:
            candidates.append(self.cancel_at)
        if self.boleto is not None:
            candidates.append(self.boleto["expires_at"])
        elif self.inflight is None and self.status != "inactive":
            if self.retry is not None:
                candidates.append(self.retry["next_retry_at"] or self.retry["window_ends_at"])
            else:
                due = self.next_charge_at
                if due is not None:
                    candidates.append(due)
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
        cycle, installment, amount, due = self._target()
        if reprocess:
            if self.status not in ("past_due", "inactive") and not (self.status == "pending" and self.retry):
                raise InvalidStateError(f"only a past_due or inactive subscription can be reprocessed, not {self.status}")
        elif self.status == "inactive":
            return None
        elif self.retry is not None:
            if self.retry["next_retry_at"] is None or at < self.retry["next_retry_at"]:
                return None
        elif at < due or self._renewal_blocked_by_cancellation(cycle):
            return None
        attempt = self.attempts_on_installment + 1
        key = f"{self.id}:c{cycle}:i{installment}:a{attempt}"
        method = self.payment_method["type"]
        new_terms = cycle > self.cycle and self.pending_terms is not None
        self._charge_attempted(
            key=key,
            plan_id=self.pending_terms["plan_id"] if new_terms and self.pending_terms else self.plan_id,
            due_at=due,
            cycle=cycle,
            installment=installment,
            installments=self._installments_of(cycle),
            amount=amount.amount,
            currency=amount.currency,
            method=method,
            attempt=attempt,
            is_retry=self.retry is not None,
            reprocess=reprocess,
            at=at,
            actor=actor,
        )
        self._reschedule(at, actor)
        return ChargeRequest(key, method, self.payment_method.get("token"), amount, cycle, installment)

    def _installments_of(self, cycle: int) -> int:
        if cycle > self.cycle and self.pending_terms is not None:
            return int(self.pending_terms["installments"])
        return self.installments

    def pending_charge(self) -> ChargeRequest | None:
        """The attempt recorded but not yet resolved (after a crash, the scheduler resolves it)."""
        if self.inflight is None:
            return None
        f = self.inflight
        money = Money(f["amount"], f["currency"])
        return ChargeRequest(f["key"], f["method"], self.payment_method.get("token"), money, f["cycle"], f["installment"])

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
        self.inflight = {
            "key": key,
            "terms": self.pending_terms if cycle > self.cycle else None,
            "cycle": cycle,
            "installment": installment,
            "installments": installments,
            "amount": amount,
            "currency": currency,
            "method": method,
            "reprocess": reprocess,
            "at": at,
        }

    def _check_inflight(self, key: str) -> dict[str, Any]:
        if self.inflight is None or self.inflight["key"] != key:
            raise InvalidStateError(f"no charge attempt {key} is awaiting its result")
        return self.inflight

    def record_charge_approved(self, key: str, gateway_charge_id: str, at: datetime, actor: Actor) -> None:
        """The gateway approved: the installment is paid, the subscription (re)activates."""
        attempt = self._check_inflight(key)
        self._settle_paid(attempt, gateway_charge_id, at, actor)

    def _settle_paid(self, attempt: dict[str, Any], gateway_charge_id: str, at: datetime, actor: Actor) -> None:
        cycle = attempt["cycle"]
        installment = attempt["installment"]
        new_cycle = cycle > self.cycle
        # A retry that succeeds moves the anchor if the plan says so; a charge that brings an inactive
        # subscription back always does: the months it spent inactive are not billed afterwards.
        reset_anchor = (self.retry is not None and self.policy.reset_billing_date) or self.status == "inactive"
        if new_cycle:
            terms = attempt.get("terms")
            if self.cycle == 0:
                anchor, offset = self.anchor, 0
            else:
                anchor, offset = self.anchor, self.cycle_offset + self.period_months
        else:
            terms, anchor, offset = None, self.anchor, self.cycle_offset
        if reset_anchor:
            # The paid installment's date becomes `at`; its cycle is re-counted from there.
            anchor, offset = at, -(installment - 1)
        status = "cancelled" if self.status == "cancelled" else "active"
        period_start = add_months(anchor, offset) if new_cycle or reset_anchor else self.period_start
        self._charge_succeeded(
            key=attempt["key"],
            gateway_charge_id=gateway_charge_id,
            **charge_fields(attempt),
            new_terms=terms,
            anchor=anchor,
            cycle_offset=offset,
            period_start=period_start,
            status=status,
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
        self.unpaid_boletos = {
            k: b for k, b in self.unpaid_boletos.items() if (b["cycle"], b["installment"]) != (cycle, installment)
        }
        if new_terms is not None:
            self._assign_terms(new_terms)
            self.pending_terms = None
        if cycle > self.cycle:
            self.cycle = cycle
            self.paid_in_cycle = 0
        self.paid_in_cycle = installment
        self.anchor = anchor
        self.cycle_offset = cycle_offset
        self.period_start = period_start if period_start is not None else add_months(anchor, cycle_offset)
        self.paid_recurrences += 1
        self.total_paid += amount
        self.attempts_on_installment = 0
        self.inflight = None
        self.retry = None
        self.status = status

    def record_charge_refused(self, key: str, reason: str, at: datetime, actor: Actor) -> None:
        """The gateway refused: schedule a retry inside the window, or stop billing after the last."""
        attempt = self._check_inflight(key)
        policy = self.policy
        hard = is_hard_decline(reason)
        if self.status == "cancelled":
            status, retry = "cancelled", None
        elif attempt["reprocess"] and self.status == "inactive":
            status, retry = "inactive", None
        elif self.retry is None:
            first = at
            status = "pending" if self.cycle == 0 and self.trial_ends_at is None else "past_due"
            retry = {"attempt": 0, "first_refusal_at": first, "window_ends_at": policy.window_end(first)}
        else:
            status, retry = self.status, dict(self.retry)
        self._charge_failed(
            key=key,
            **charge_fields(attempt),
            reason=reason,
            hard_decline=hard,
            status=status,
            at=at,
            actor=actor,
        )
        if retry is not None and not attempt["reprocess"]:
            self._plan_next_retry(retry, policy, hard, at, actor)
        elif retry is not None and hard and retry.get("next_retry_at") is not None:
            # A reprocess met a dead card: the scheduled retries would only meet it again.
            self._reschedule_retry(retry, None, at, actor)
        self._reschedule(at, actor)

    def _reschedule_retry(self, retry: dict[str, Any], next_retry_at: datetime | None, at: datetime, actor: Actor) -> None:
        self._retry_scheduled(
            attempt=retry["attempt"],
            max_retries=retry["max_retries"],
            next_retry_at=next_retry_at,
            first_refusal_at=retry["first_refusal_at"],
            window_ends_at=retry["window_ends_at"],
            waiting_for_new_payment_method=next_retry_at is None,
            at=at,
            actor=actor,
        )

    def _plan_next_retry(self, retry: dict[str, Any], policy: RetryPolicy, hard: bool, at: datetime, actor: Actor) -> None:
        done = int(retry["attempt"])
        if done >= policy.max_retries:
            self._retries_exhausted(attempts=done, at=at, actor=actor)
            return
        next_at = None if hard else policy.retry_at(retry["first_refusal_at"], done + 1)
        self._retry_scheduled(
            attempt=done + 1,
            max_retries=policy.max_retries,
            next_retry_at=next_at,
            first_refusal_at=retry["first_refusal_at"],
            window_ends_at=retry["window_ends_at"],
            waiting_for_new_payment_method=hard,
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
        self.retry = {
            "attempt": attempt,
            "max_retries": max_retries,
            "next_retry_at": next_retry_at,
            "first_refusal_at": first_refusal_at,
            "window_ends_at": window_ends_at,
        }

    @event("RetriesExhausted")
    def _retries_exhausted(self, attempts: int, at: datetime, actor: Actor) -> None:
        self.status = "inactive"
        self.retry = None

    # ---------------------------------------------------------------- boleto
    def record_boleto_issued(self, key: str, boleto_id: str, line: str, at: datetime, actor: Actor) -> None:
        attempt = self._check_inflight(key)
        due = at + timedelta(days=BOLETO_DAYS_TO_PAY)
        self._boleto_issued(
            key=key,
            boleto_id=boleto_id,
            line=line,
            amount=attempt["amount"],
            currency=attempt["currency"],
            cycle=attempt["cycle"],
            installment=attempt["installment"],
            installments=attempt["installments"],
            due_date=due.date().isoformat(),
            expires_at=due,
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
        self.boleto = {
            "id": boleto_id,
            "line": line,
            "amount": amount,
            "currency": currency,
            "due_date": due_date,
            "expires_at": expires_at,
            "inflight": self.inflight,
        }
        # A new boleto for an installment voids any earlier, expired one for it.
        self.unpaid_boletos = {
            k: b for k, b in self.unpaid_boletos.items() if (b["cycle"], b["installment"]) != (cycle, installment)
        }
        self.unpaid_boletos[boleto_id] = {"cycle": cycle, "installment": installment, "boleto": self.boleto}
        self.inflight = None

    def record_boleto_paid(self, boleto_id: str, at: datetime, actor: Actor) -> None:
        """The bank reports the boleto paid: the installment it was issued for is paid.

        Money the bank received is always recorded: a boleto paid after it expired reactivates the
        subscription (billing restarts from that day), one paid after a cancellation is recorded and the
        subscription stays cancelled. Only a boleto voided by a later payment of its installment (or by a
        newer boleto for it) is refused.
        """
        entry = self.unpaid_boletos.get(boleto_id)
        if entry is None:
            raise InvalidStateError(f"boleto {boleto_id} is not payable: it was paid or voided")
        if self.inflight is not None and (self.inflight["cycle"], self.inflight["installment"]) == (entry["cycle"], entry["installment"]):
            raise InvalidStateError("a card charge for this installment is in progress; retry shortly")
        boleto = entry["boleto"]
        self._boleto_paid(boleto_id=boleto_id, amount=boleto["amount"], currency=boleto["currency"], at=at, actor=actor)
        self._settle_paid(boleto["inflight"], f"boleto:{boleto_id}", at, actor)

    @event("BoletoPaid")
    def _boleto_paid(self, boleto_id: str, amount: int, currency: str, at: datetime, actor: Actor) -> None:
        if self.boleto is not None and self.boleto["id"] == boleto_id:
            self.boleto = None
        self.unpaid_boletos.pop(boleto_id, None)

    def expire_boleto(self, at: datetime, actor: Actor) -> bool:
        """An unpaid boleto past its due date expires and billing stops until reprocessed.

        We do not chase a customer with a new boleto every few days: an expired boleto makes the
        subscription `inactive`; `reprocess` (or a card) restarts billing.
        """
        if self.boleto is None or at < self.boleto["expires_at"]:
            return False
        b = self.boleto
        status = "cancelled" if self.status == "cancelled" else "inactive"
        self._boleto_expired(
            boleto_id=b["id"],
            amount=b["amount"],
            currency=b["currency"],
            cycle=b["inflight"]["cycle"],
            installment=b["inflight"]["installment"],
            status=status,
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
        if self.retry is None or self.retry["next_retry_at"] is not None or self.inflight is not None:
            return False
        if at < self.retry["window_ends_at"]:
            return False
        self._retries_exhausted(attempts=int(self.retry["attempt"]), at=at, actor=actor)
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
        installments = min(self.installments, PERIOD_MONTHS[terms.periodicity])
        new_terms = PlanTerms(
            terms.plan_id,
            terms.offer_id,
            terms.price,
            terms.periodicity,
            installments,
            terms.retry_policy,
            terms.renewal_reminder_days,
        )
        applies_now = self.cycle == 0 and self.inflight is None and self.boleto is None and self.retry is None
        effective_at = at if applies_now else (self.current_period_end or self._target()[3])
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
            self._assign_terms(terms)
            self.pending_terms = None
        else:
            self.pending_terms = terms

    def change_payment_method(self, payment_method: dict[str, Any], at: datetime, actor: Actor) -> None:
        """A new card or boleto. A subscription waiting on a dead card is retried right away, if its
        retry window is still open."""
        self._check_not_cancelled()
        self.exhaust_retries_if_window_closed(at, actor)
        self._payment_method_changed(payment_method=payment_method, at=at, actor=actor)
        if self.retry is not None and self.retry["next_retry_at"] is None and self.inflight is None:
            self._reschedule_retry(self.retry, at, at, actor)
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
        _, installment, _, due = self._target()
        new_due = next_occurrence_of_day(due, at, day)
        months_to_next = self.paid_in_cycle if installment > 1 else self.period_months
        self._billing_day_changed(day=day, anchor=new_due, cycle_offset=-months_to_next, next_charge_at=new_due, at=at, actor=actor)
        self._reschedule(at, actor)

    @event("BillingDayChanged")
    def _billing_day_changed(
        self, day: int, anchor: datetime, cycle_offset: int, next_charge_at: datetime, at: datetime, actor: Actor
    ) -> None:
        self.anchor = anchor
        self.cycle_offset = cycle_offset

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
        self._cancelled(
            origin=self.scheduled_cancellation["origin"], reason=self.scheduled_cancellation["reason"], at=self.cancel_at, actor=actor
        )
        self._reschedule(at, actor)
        return True

    @event("CancellationScheduled")
    def _cancellation_scheduled(self, origin: str, reason: str | None, cancel_at: datetime, at: datetime, actor: Actor) -> None:
        self.cancel_at = cancel_at
        self.scheduled_cancellation = {"origin": origin, "reason": reason}

    @event("Cancelled")
    def _cancelled(self, origin: str, reason: str | None, at: datetime, actor: Actor) -> None:
        self.status = "cancelled"
        self.cancelled_at = at
        self.cancellation = {"origin": origin, "reason": reason}
        self.cancel_at = None
        self.retry = None
        self.boleto = None

    # --------------------------------------------------------------- the scheduler's entry point
    def settle_due_housekeeping(self, at: datetime, actor: Actor) -> bool:
        """Everything due at `at` that needs no gateway: cancellations, boleto expiry, closed windows."""
        done = self.complete_scheduled_cancellation(at, actor)
        done = self.expire_boleto(at, actor) or done
        done = self.exhaust_retries_if_window_closed(at, actor) or done
        return done
