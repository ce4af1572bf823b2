"""Which replica of a device takes the next measurement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReplicaPool:
    """The idle replicas of each device, handed out least used first.

    A replica measures one model at a time; a request for a device whose replicas are all
    busy waits for the first to come free (rather than queueing behind one that may be
    compiling a large model), and a replica is given back when its measurement ends,
    whether it succeeded or not.
    """

    def __init__(self, replicas: dict[str, int]):
        self._busy = {device: [False] * count for device, count in replicas.items()}
        self._used = {device: [0] * count for device, count in replicas.items()}
        self._condition = threading.Condition()

    @contextmanager
    def take(self, device: str, replica: int | None = None) -> Iterator[int]:
        """Hold an idle replica of ``device`` (``replica`` itself, if given) for the block;
        yields its index."""
        busy, used = self._busy[device], self._used[device]
        with self._condition:
            if replica is None:
                self._condition.wait_for(lambda: not all(busy))
                replica = min((i for i, taken in enumerate(busy) if not taken), key=used.__getitem__)
            else:
                self._condition.wait_for(lambda: not busy[replica])
            busy[replica], used[replica] = True, used[replica] + 1
        try:
            yield replica
        finally:
            with self._condition:
                busy[replica] = False
                self._condition.notify_all()
