"""What a payment gateway's event says, recorded on the subscriptions it concerns, once per event.

The gateway adapter verified the event and translated it into facts (recur.commands.gateway.GatewayNotice); this
module applies them with the refund and dispute commands, each of which is idempotent by the gateway's own ids.
On top of that every event is applied once: its id is written to `gateway_events` in a transaction held while its
facts are recorded, so a redelivery (Stripe delivers at least once) or two deliveries at the same moment find the row
and record nothing. Should recording fail half-way (or a fact come too early), the row is rolled back with the
error, the gateway is answered an error and delivers the event again, and the facts already recorded are recognised
by their ids.
"""

from __future__ import annotations

import logging

from recur.commands import refunds
from recur.commands.event_store import NotFoundError
from recur.commands.gateway import DisputeClosed, DisputeOpened, GatewayFact, GatewayNotice, RefundedAtGateway
from recur.commands.services import Services
from recur.domain.actor import Actor
from recur.domain.errors import RuleViolationError

log = logging.getLogger(__name__)


def record_notice(services: Services, gateway: str, notice: GatewayNotice, actor: Actor) -> str:
    """Apply a verified event once: "recorded" (something new), "known" (all of it recorded before), "duplicate"
    (this event was applied before), "ignored" (nothing in it for recur)."""
    with services.db.transaction() as cur:
        cur.execute(
            "INSERT INTO gateway_events (gateway, event_id, event_type, outcome) VALUES (%s, %s, %s, 'applying') "
            "ON CONFLICT (gateway, event_id) DO NOTHING RETURNING event_id",
            (gateway, notice.event_id, notice.event_type),
        )
        if cur.fetchone() is None:
            return "duplicate"
        recorded = [record_fact(services, fact, actor) for fact in notice.facts]
        outcome = "recorded" if any(recorded) else "known" if notice.facts else "ignored"
        cur.execute("UPDATE gateway_events SET outcome = %s WHERE gateway = %s AND event_id = %s",
                    (outcome, gateway, notice.event_id))
    return outcome


def record_fact(services: Services, fact: GatewayFact, actor: Actor) -> bool:
    """One fact on its subscription; False when it was already recorded, or can never be (logged: a redelivery would
    not change that, so the event is not refused for it). A fact that comes too early (a refund of a charge whose
    approval is not recorded yet, a dispute closed before its opening arrived) raises InvalidStateError: the event is
    then refused (409), and Stripe delivers it again later, when it fits."""
    try:
        if isinstance(fact, RefundedAtGateway):
            return refunds.record_external_refund(services, fact.subscription_id, fact.charge_id, fact.refund_id, fact.amount,
                                                  fact.currency, actor)
        if isinstance(fact, DisputeOpened):
            return refunds.record_dispute_opened(services, fact.subscription_id, fact.charge_id, fact.dispute_id, fact.amount,
                                                 fact.currency, fact.reason or None, actor)
        if isinstance(fact, DisputeClosed):
            return refunds.record_dispute_closed(services, fact.subscription_id, fact.charge_id, fact.dispute_id, fact.outcome,
                                                 actor)
    except NotFoundError:
        log.warning("%s names subscription %s, which this recur does not have: not recorded", type(fact).__name__,
                    fact.subscription_id)
    except RuleViolationError as error:
        log.warning("%s on subscription %s not recorded: %s", type(fact).__name__, fact.subscription_id, error)
    return False
