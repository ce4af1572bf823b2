"""Keeps training off the cores a profiler is timing: one gate per node, held by the broker.

On a machine with no spare core to pin training to, training and timing take turns:
trials hold a shared turn for a few dozen steps at a time, and a measurement (with the
tuning it may start) waits until the node's open turns end, while no new turn starts.
Measurements on remote devices take no turn: their cores are elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class CoreGate:
    """A readers-writer lock per node, writers first: trainers share, a measurement is alone.

    Turns are short (a few dozen training steps), so a measurement that still finds
    turns open after ``drain_timeout_s`` takes them for leaked (a trainer killed inside
    its turn never calls ``end_training``), forgets them with a warning and runs: one
    dead trial must not stop every later measurement.
    """

    def __init__(self, drain_timeout_s: float = 120.0):
        self.drain_timeout_s = drain_timeout_s
        self._condition = threading.Condition()
        self._training = Counter()
        self._measuring = Counter()
        self._waiting = Counter()

    def begin_training(self, node: str) -> None:
        with self._condition:
            self._condition.wait_for(lambda: not self._measuring[node] and not self._waiting[node])
            self._training[node] += 1

    def end_training(self, node: str) -> None:
        with self._condition:
            self._training[node] = max(0, self._training[node] - 1)
            self._condition.notify_all()

    @contextmanager
    def measuring(self, node: str):
        """Exclusive use of ``node``'s cores for the duration of the block."""
        with self._condition:
            self._waiting[node] += 1
            start = time.monotonic()
            drained = self._condition.wait_for(
                lambda: not self._training[node] and not self._measuring[node], timeout=self.drain_timeout_s
            )
            if not drained:
                self._condition.wait_for(lambda: not self._measuring[node])
                logger.warning(
                    "node %s: %d training turn(s) still open after %.0f s, taken for leaked by "
                    "dead trials and forgotten",
                    node, self._training[node], time.monotonic() - start,
                )  # fmt: skip
                self._training[node] = 0
            self._waiting[node] -= 1
            self._measuring[node] += 1
        try:
            yield
        finally:
            with self._condition:
                self._measuring[node] -= 1
                self._condition.notify_all()

    def state(self, node: str) -> dict[str, int]:
        with self._condition:
            return {
                "training": self._training[node],
                "measuring": self._measuring[node],
                "waiting": self._waiting[node],
            }
