"""The billing schedule: when installments fall due, where periods start and end, when trials and boletos end,
and when the subscriber is told ahead of a renewal or a trial's end.

Pure computation on dates and values, no state changes: the subscription asks, decides and records
the answer in its events. Dates are counted in calendar months from an anchor (calendar.py), so a
subscription started on Jan 31 is billed on Feb 29 and then Mar 31 again, never drifting to the 29th.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from recur.domain.calendar import add_months, next_occurrence_of_day
from recur.domain.money import Money
from recur.domain.terms import PlanTerms

BOLETO_DAYS_TO_PAY = 3
# The subscriber hears this many days ahead that the trial ends and the first charge follows (API: E-mail).
TRIAL_ENDING_NOTICE_DAYS = 3


@dataclass(frozen=True)
class BillingAnchor:
    """The date billing is counted from, and how many months after it the current cycle starts.

    Paying a renewal moves the offset on by one period; changing the billing day, or a payment that
    restarts billing (after a retry with `reset_billing_date`, or on an inactive subscription),
    moves the date itself.
    """

    date: datetime
    cycle_offset: int = 0

    def months_into_cycle(self, months: int) -> datetime:
        """The date `months` calendar months after the current cycle's start."""
        return add_months(self.date, self.cycle_offset + months)

    @property
    def cycle_start(self) -> datetime:
        return self.months_into_cycle(0)

    def cycle_end(self, period_months: int) -> datetime:
        """The end of the current cycle, which is also the next cycle's start."""
        return self.months_into_cycle(period_months)

    def first_cycle(self) -> BillingAnchor:
        """The first paid cycle starts on the anchor date itself."""
        return BillingAnchor(self.date)

    def next_cycle(self, period_months: int) -> BillingAnchor:
        return BillingAnchor(self.date, self.cycle_offset + period_months)

    @classmethod
    def restarted_on(cls, day: datetime, installment: int) -> BillingAnchor:
        """Billing restarts with `installment` paid on `day`: its cycle is counted back from there."""
        return cls(day, -(installment - 1))


@dataclass(frozen=True)
class NextInstallment:
    """The next unpaid installment: which cycle and installment, how much, when it falls due, on which terms."""

    cycle: int
    installment: int
    amount: Money
    due_at: datetime
    terms: PlanTerms


def next_installment(
    *, cycle: int, paid_in_cycle: int, terms: PlanTerms, renewal_terms: PlanTerms, anchor: BillingAnchor
) -> NextInstallment:
    """The installment to charge next.

    While the current cycle has unpaid installments, the next of them on the current terms, one per
    month from the cycle's start; otherwise the first installment of the next cycle, priced on
    `renewal_terms` (a pending plan change, else the current terms), due when the current cycle
    ends. Before any cycle is paid (cycle 0) that is the anchor date itself.
    """
    if cycle >= 1 and paid_in_cycle < terms.installments:
        amount = terms.installment_amounts()[paid_in_cycle]
        return NextInstallment(cycle, paid_in_cycle + 1, amount, anchor.months_into_cycle(paid_in_cycle), terms)
    first = renewal_terms.installment_amounts()[0]
    if cycle == 0:
        return NextInstallment(1, 1, first, anchor.date, renewal_terms)
    return NextInstallment(cycle + 1, 1, first, anchor.cycle_end(terms.period_months), renewal_terms)


@dataclass(frozen=True)
class RenewalReminder:
    """A reminder of the coming renewal: `days_before` its charge, which is the next installment (`renewal`).

    Its moment follows the renewal wherever the billing day or a plan change moves it; a moment already
    past when the subscription is looked at means at once.
    """

    renewal: NextInstallment
    days_before: int

    @property
    def due_at(self) -> datetime:
        return self.renewal.due_at - timedelta(days=self.days_before)


def renewal_reminder(renewal: NextInstallment) -> RenewalReminder | None:
    """The reminder the renewal's own terms ask for (those of a pending plan change, which renews), if any."""
    days_before = renewal.terms.renewal_reminder_days
    return RenewalReminder(renewal, days_before) if days_before is not None else None


def anchor_on_billing_day(due: NextInstallment, day: int, not_before: datetime, period_months: int) -> BillingAnchor:
    """The anchor that moves the next installment to `day` of the month, the first such date not before
    `not_before`; the current period stretches or shrinks to meet it."""
    new_due = next_occurrence_of_day(due.due_at, not_before, day)
    months_into_cycle = due.installment - 1 if due.installment > 1 else period_months
    return BillingAnchor(new_due, -months_into_cycle)


def trial_end(start: datetime, trial_days: int) -> datetime | None:
    return start + timedelta(days=trial_days) if trial_days > 0 else None


def trial_ending_notice_at(trial_ends_at: datetime) -> datetime:
    """When the subscriber is told the trial ends (a trial of TRIAL_ENDING_NOTICE_DAYS or less: at once)."""
    return trial_ends_at - timedelta(days=TRIAL_ENDING_NOTICE_DAYS)


def boleto_expiry(issued_at: datetime) -> datetime:
    """A boleto is payable for BOLETO_DAYS_TO_PAY days after it is issued."""
    return issued_at + timedelta(days=BOLETO_DAYS_TO_PAY)
