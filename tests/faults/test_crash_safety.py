"""Nothing lost, nothing counted twice: kill -9 of the relay and of consumers, an empty broker restart,
and two consumers sharing the partitions, each during a load of commands."""

from __future__ import annotations

import random
import threading
import time

from fault_rig import Load, Rig, assert_read_models_equal_a_rebuild, wait_until


def test_kill_9_of_the_relay_and_of_the_consumer_during_a_load_loses_nothing_and_counts_nothing_twice(rig: Rig) -> None:
    relay, consumer = rig.worker("relay"), rig.worker("consumer")
    load = Load(rig.services)
    loader = threading.Thread(target=load.run, args=(1500,))
    loader.start()
    rnd = random.Random(7)
    kills = {"relay": 0, "consumer": 0}
    rounds = 0
    while loader.is_alive() or rounds < 4:
        time.sleep(rnd.uniform(0.4, 1.5))
        role = "relay" if rounds % 2 == 0 else "consumer"
        victim = relay if role == "relay" else consumer
        victim.kill9()
        kills[role] += 1
        if role == "relay":
            relay = rig.worker("relay")
        else:
            consumer = rig.worker("consumer")
        rounds += 1
    loader.join()
    assert load.done >= 1400
    assert kills["relay"] >= 2 and kills["consumer"] >= 2
    assert relay.alive and consumer.alive
    assert_read_models_equal_a_rebuild(rig)


def test_the_broker_restarted_empty_mid_load_leaves_read_models_equal_to_a_rebuild(rig: Rig) -> None:
    rig.worker("relay")
    rig.worker("consumer")
    load = Load(rig.services)
    loader = threading.Thread(target=load.run, args=(900,))
    loader.start()
    wait_until(lambda: load.done > 300, timeout=60)
    rig.broker.restart()
    loader.join()
    assert_read_models_equal_a_rebuild(rig)


def test_two_consumers_in_one_group_share_the_partitions_and_build_the_same_read_models(rig: Rig) -> None:
    rig.worker("relay")
    rig.worker("consumer")
    rig.worker("consumer")
    load = Load(rig.services)
    load.run(900)
    assert_read_models_equal_a_rebuild(rig)
    owned = []
    for worker in rig.workers[1:]:
        lines = [line for line in worker.log_path.read_text().splitlines() if "consumer: assigned" in line]
        owned.append(lines[-1].split(": ", 3)[-1] if lines else "")
    assert all(owned), "each consumer was assigned partitions"
    first, second = ({p for p in o.split(", ") if p} for o in owned)
    assert first and second and not first & second, (first, second)
    assert len(first | second) == 12  # 6 partitions of each topic, split between the two
