"""The per-node gate that keeps training off cores being measured (threads, no Ray)."""

import threading
import time

from device_profilers import CoreGate


def _started(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_measurement_waits_for_open_turns_and_new_turns_wait_for_it():
    gate, events = CoreGate(), []
    first = gate.begin_training("node-a")

    def measure():
        with gate.measuring("node-a"):
            events.append("measure")
            time.sleep(0.2)
        events.append("measured")

    def train():
        token = gate.begin_training("node-a")
        events.append("second turn")
        gate.end_training("node-a", token)

    measurer = _started(measure)
    time.sleep(0.2)
    trainer = _started(train)  # arrives while the measurement waits: must queue behind it
    time.sleep(0.2)
    assert events == [] and gate.state("node-a") == {"training": 1, "measuring": 0, "waiting": 1}
    gate.end_training("node-a", first)
    measurer.join(5)
    trainer.join(5)
    assert events == ["measure", "measured", "second turn"]


def test_other_nodes_train_during_a_measurement():
    gate = CoreGate()
    with gate.measuring("node-a"):
        trainer = _started(lambda: gate.begin_training("node-b"))
        trainer.join(2)
        assert not trainer.is_alive()
    assert gate.state("node-b")["training"] == 1


def test_turns_left_open_by_dead_trainers_are_forgotten_after_the_timeout():
    gate = CoreGate(drain_timeout_s=0.2)
    leaked = gate.begin_training("node-a")  # never ended, as if its trial had been killed
    start = time.monotonic()
    with gate.measuring("node-a"):
        waited = time.monotonic() - start
    assert 0.2 <= waited < 2
    assert gate.state("node-a")["training"] == 0
    gate.end_training("node-a", leaked)  # a late end does not go negative
    assert gate.state("node-a")["training"] == 0


def test_turns_of_a_holder_seen_dead_are_forgotten_at_once_and_only_theirs():
    dead = set()
    gate = CoreGate(dead_holders=lambda holders: holders & dead, poll_s=0.05)
    gate.begin_training("node-a", "trial-1")
    gate.begin_training("node-a", "trial-1")
    alive = gate.begin_training("node-a", "trial-2")
    measured = threading.Event()

    def measure():
        with gate.measuring("node-a"):
            measured.set()

    _started(measure)
    time.sleep(0.2)
    dead.add("trial-1")  # killed inside both of its turns
    time.sleep(0.2)
    assert not measured.is_set() and gate.state("node-a")["training"] == 1  # trial-2's turn still counts
    gate.end_training("node-a", alive)
    assert measured.wait(2)
