"""Keeps training off the cores a profiler is timing: one gate per node, held by the broker.

On a machine with no spare core to pin training to, training and timing take turns:
trials hold a shared turn for a few dozen steps at a time, and a measurement (with the
tuning it may start) waits until the node's open turns end, while no new turn starts.
Measurements on remote devices take no turn: their cores are elsewhere.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from contextlib import contextmanager

logger = logging.getLogger(__name__)


class CoreGate:
    """A readers-writer lock per node, writers first: trainers share, a measurement is alone.

    Each turn is a token, optionally with its holder. A waiting measurement asks
    ``dead_holders`` every ``poll_s`` which holders died and forgets their turns (a
    trainer killed inside its turn never calls ``end_training``). Turns without a
    holder, or whose death goes unseen, are taken for leaked after ``drain_timeout_s``
    and forgotten with a warning: one dead trial must not stop every later measurement.
    """

    def __init__(
        self,
        drain_timeout_s: float = 120.0,
        dead_holders: Callable[[set[Hashable]], set[Hashable]] = lambda holders: set(),
        poll_s: float = 0.5,
    ):
        self.drain_timeout_s = drain_timeout_s
        self.poll_s = poll_s
        self._dead_holders = dead_holders
        self._condition = threading.Condition()
        self._tokens = itertools.count()
        self._turns: defaultdict[str, dict[int, Hashable | None]] = defaultdict(dict)
        self._measuring = Counter()
        self._waiting = Counter()

    def begin_training(self, node: str, holder: Hashable | None = None) -> int:
        """Wait until no measurement runs or waits on ``node``; returns the turn's token."""
        with self._condition:
            self._condition.wait_for(lambda: not self._measuring[node] and not self._waiting[node])
            token = next(self._tokens)
            self._turns[node][token] = holder
            return token

    def end_training(self, node: str, token: int) -> None:
        """End a turn; a turn already forgotten as leaked ends silently."""
        with self._condition:
            self._turns[node].pop(token, None)
            self._condition.notify_all()

    @contextmanager
    def measuring(self, node: str):
        """Exclusive use of ``node``'s cores for the duration of the block."""
        with self._condition:
            self._waiting[node] += 1
            deadline = time.monotonic() + self.drain_timeout_s
            while not self._condition.wait_for(
                lambda: not self._turns[node] and not self._measuring[node], timeout=self.poll_s
            ):
                self._forget_dead_holders(node)
                if self._turns[node] and time.monotonic() >= deadline:
                    logger.warning(
                        "node %s: %d training turn(s) still open after %.0f s, taken for leaked by "
                        "dead trials and forgotten",
                        node, len(self._turns[node]), self.drain_timeout_s,
                    )  # fmt: skip
                    self._turns[node].clear()
            self._waiting[node] -= 1
            self._measuring[node] += 1
        try:
            yield
        finally:
            with self._condition:
                self._measuring[node] -= 1
                self._condition.notify_all()

    def _forget_dead_holders(self, node: str) -> None:
        turns = self._turns[node]
        dead = self._dead_holders(set(turns.values()) - {None})
        for token in [token for token, holder in turns.items() if holder in dead]:
            del turns[token]
        if dead:
            logger.warning("node %s: forgot the open turns of %d dead trainer(s)", node, len(dead))

    def state(self, node: str) -> dict[str, int]:
        with self._condition:
            return {
                "training": len(self._turns[node]),
                "measuring": self._measuring[node],
                "waiting": self._waiting[node],
            }
