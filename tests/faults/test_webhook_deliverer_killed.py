"""kill -9 of the webhooks worker while its receiver holds deliveries open: nothing is lost, and a delivery is sent at
most once more (only those in flight at the kill), with the same webhook-id and body."""

from __future__ import annotations

from collections import Counter

from fault_rig import Rig, wait_until
from standardwebhooks import Webhook
from webhook_receiver import Receiver

from recur.commands import catalog, subscriptions
from recur.commands.webhooks import create_webhook_endpoint
from recur.domain.actor import system_actor
from recur.domain.subscription import Subscription

SUBSCRIPTIONS = 4


def test_a_killed_deliverer_loses_nothing_and_sends_each_delivery_at_most_once_more(rig: Rig) -> None:
    services, actor = rig.services, system_actor()
    receiver = Receiver().start()
    receiver.hang()
    try:
        rig.worker("relay")
        first = rig.worker("webhooks")
        producer, _ = catalog.register_producer(services, "Ana Courses", "ana@example.com", actor)
        endpoint, secret = create_webhook_endpoint(services, str(producer.id), {"url": receiver.url}, actor)
        product = catalog.create_product(services, str(producer.id), "Course", actor)
        plan = catalog.define_plan(services, str(product.id), None, {"name": "M", "periodicity": "monthly",
                                                                    "price": {"amount": 1000, "currency": "BRL"}}, actor)
        card = services.gateway.tokenize("4242424242424242", 12, 2030).token
        started = [subscriptions.start_subscription(services, None, {
            "plan_id": str(plan.id), "subscriber": {"name": "Bia", "email": "bia@example.com"},
            "payment_method": {"type": "card", "card_token": card}}, actor)[0] for _ in range(SUBSCRIPTIONS)]
        events = {f"{sub.id}:{version}" for sub in started
                  for version in range(1, services.events.load(sub.id, Subscription).version + 1)}

        receiver.wait_for(lambda: receiver.in_flight == 4, "the worker to have deliveries under way", timeout=60)
        held = {delivery.webhook_id for delivery in receiver.deliveries()}
        first.kill9()
        receiver.release()  # the held requests are answered 200, to a process that can no longer record it
        rig.worker("webhooks")

        def all_delivered() -> bool:
            row = services.db.fetchone("SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM webhook_deliveries "
                                       "WHERE endpoint_id = %s", (str(endpoint.id),))
            return row == (len(events), len(events))

        wait_until(all_delivered, timeout=90)
        sent = Counter(delivery.webhook_id for delivery in receiver.deliveries())
        assert set(sent) == events  # nothing lost
        # Those in flight at the kill (answered, but never recorded) once more; every other one once.
        assert {webhook_id for webhook_id, times in sent.items() if times > 1} == held
        assert max(sent.values()) == 2
        for webhook_id in held:
            copies = [delivery for delivery in receiver.deliveries() if delivery.webhook_id == webhook_id]
            assert len({copy.body for copy in copies}) == 1
            Webhook(secret).verify(copies[-1].body, copies[-1].headers)
    finally:
        receiver.stop()
