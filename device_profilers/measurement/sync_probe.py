"""Waits out the phases in which this machine's cores are slow to synchronise.

In such phases every parallel model runs slower as a whole while single-threaded code
does not; a near-empty parallel loop reads the cost of a fork/join across the cores in
about a millisecond, and a block is timed only once that cost is back within
``slow_factor`` of the lowest reading the device gave at its thread count (kept in its
cache directory). The measurements behind this: ``docs/latency-measurement.md``.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from pathlib import Path

from ..devices import Device
from ..files import write_atomic

logger = logging.getLogger(__name__)


def busy_cpu_seconds() -> float:
    """CPU seconds all processes have used, from the kernel's counters (all cores summed)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class SyncProbe:
    """Fork/join cost of the TVM thread pool on a local device, and the wait for it to be normal.

    ``slow_factor``: a reading above this multiple of the device's best is a slow phase.
    ``max_others_busy``: other processes may use at most this share of one core (Ray's
    workers starting up use more for seconds). ``max_wait_s``: how long one block waits
    at most; after that it is timed anyway.
    """

    def __init__(
        self,
        device: Device,
        cache_dir: str | os.PathLike,
        slow_factor: float = 1.75,
        max_others_busy: float = 0.1,
        max_wait_s: float = 10.0,
    ):
        self.device = device
        self.slow_factor = slow_factor
        self.max_others_busy = max_others_busy
        self.max_wait_s = max_wait_s
        self.record = Path(cache_dir) / "tvm" / device.name / f"sync_probe_{device.num_threads}_threads.json"
        self._timer = None
        self._best_us = self._load_best()
        self.waited_s = 0.0

    def _load_best(self) -> float | None:
        try:
            return float(json.loads(self.record.read_text())["best_us"])
        except (OSError, ValueError, KeyError):
            return None

    def _save_best(self) -> None:
        self.record.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.record, json.dumps({"best_us": self._best_us}))

    def _build(self):
        """A parallel loop over the pool's threads with one add per element: nearly all fork/join."""
        import numpy as np
        import tvm
        from tvm import s_tir, te

        threads = self.device.num_threads
        source = te.placeholder((threads, 64), name="source")
        result = te.compute((threads, 64), lambda i, j: source[i, j] + 1.0, name="result")
        schedule = s_tir.Schedule(te.create_prim_func([source, result]))
        schedule.parallel(schedule.get_loops(schedule.get_sblock("result"))[0])
        module = tvm.compile(schedule.mod, target=self.device.target).mod
        buffers = [tvm.runtime.tensor(np.zeros((threads, 64), "float32")) for _ in range(2)]
        evaluator = module.time_evaluator("main", tvm.cpu(), number=200, repeat=5)
        return lambda: statistics.median(evaluator(*buffers).results) * 1e6

    def read_us(self) -> float:
        """One reading: microseconds per fork/join, median of 5 x 200 calls (about 1 ms),
        with the pool set to the device's thread count first, whoever resized it last."""
        from ..backends.tvm.runtime import set_runtime_threads

        set_runtime_threads(self.device.num_threads)
        if self._timer is None:
            self._timer = self._build()
        return self._timer()

    def others_busy(self, window_s: float = 0.2) -> float:
        """Cores' worth of CPU that other processes used over ``window_s`` while this one slept."""
        own_before, busy_before, start = os.times(), busy_cpu_seconds(), time.monotonic()
        time.sleep(window_s)
        own_after, busy_after = os.times(), busy_cpu_seconds()
        own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
        return max(0.0, busy_after - busy_before - own) / (time.monotonic() - start)

    def wait_until_normal(self) -> None:
        """Return once other processes leave the cores alone (under ``max_others_busy`` of a
        core over 0.2 s) and a probe reading is within ``slow_factor`` of the best, or after
        ``max_wait_s``."""
        if self.device.num_threads < 2 or self.device.rpc is not None or self.device.runtime_kind != "cpu":
            return  # no fork/join across this machine's cores to be slow
        if self.max_wait_s <= 0:
            return  # the protocol asked not to wait
        start = time.monotonic()
        while True:
            if self.others_busy() > self.max_others_busy:
                if time.monotonic() - start >= self.max_wait_s:
                    logger.warning("other processes still busy after %.0f s; timing anyway", self.max_wait_s)
                    break
                continue
            reading = self.read_us()
            if self._best_us is None or reading < self._best_us:
                self._best_us = reading
                self._save_best()
            if reading <= self._best_us * self.slow_factor:
                break
            if time.monotonic() - start >= self.max_wait_s:
                logger.warning("cores still slow to synchronise after %.0f s; timing anyway", self.max_wait_s)
                break
            time.sleep(0.5)
        self.waited_s += time.monotonic() - start
        # The pool's workers spin for a moment after the probe; let them sleep before timing.
        time.sleep(0.02)
