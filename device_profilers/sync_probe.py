"""Detects the phases in which this machine's cores run slow, so timing waits them out.

Two kinds of slow phase are seen here, and the probe reads both (``SyncProbe``). The first:
seen on the 2-vCPU machines here: for seconds at a time, every parallel model runs
1.2-1.7x slower, while a single-threaded loop on either core runs at full speed. What
changes is the cost of a fork/join across the cores (the host moves its virtual CPUs
apart): a parallel loop that does almost nothing measures it directly in about a
millisecond, 0.7-0.9 us per call in normal phases and 1.4-1.8 us in slow ones, two
clearly separate levels. A block of samples that falls in such a phase is slow as a
whole, so no statistic over the samples can remove it. In a 3-minute trace of
2026-12-02 the slow phases lasted 10-60 s and took two thirds of the time; in them
L4-H256-A4-I1024 (sequence 128) read 9.4-11.5 ms against 7.9-9.7 ms, a 2-layer
hidden-64 model 1.65x its normal time, and a plain 128x256x1024 matmul only 6% more,
so the slowdown depends on the model and no fixed factor corrects it. The second kind
slows computation itself while fork/join reads normal (see the matmul probe). Before
each block the profiler waits until both probes read normal, for ``max_wait_s`` at
most, and the protocol prefers the blocks that started in a normal phase
(``MeasureProtocol``).

"Normal" is relative to the lowest readings this device gave, kept in its cache
directory, so a first measurement that starts in a slow phase is corrected by later
ones rather than taken as the baseline forever.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from pathlib import Path
from typing import Callable

from .devices import Device

logger = logging.getLogger(__name__)


def _busy_seconds() -> float:
    """CPU seconds all processes have used, from the kernel's counters (all cores summed)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class SyncProbe:
    """Two short readings of a local device's phase, and the wait for both to be normal.

    - fork/join: a parallel loop over the TVM thread pool that does almost nothing;
      microseconds per call, median of 5 x 200 calls (about 1 ms).
    - matmul: a parallel 128x256x1024 float32 matmul (the FFN of a small BERT layer);
      microseconds per call, median of 10 calls (about 4 ms). It catches the phases in
      which the cores compute slowly although fork/join reads normal (the host's other
      tenants on the same physical cores): in two traces of 2026-12-02 the matmul read
      0.31-0.39 ms while fork/join stayed normal, and L4-H256-A4-I1024 followed it,
      7.9-10.4 ms; the blocks taken with the matmul within 5% of its best read
      7.9-8.8 ms (p10-p90).

    ``slow_factor`` and ``compute_slow_factor``: a reading above this multiple of the
    device's best reading of its kind is a slow phase. ``max_others_busy``: other
    processes may use at most this share of one core (Ray's own workers starting up read
    0.3-1 core for seconds after ``ray.init``). ``max_wait_s``: how long one block waits
    at most; after that it is timed anyway, and the best readings are raised by
    ``relax`` so that a device that got slower for good (a moved virtual machine) stops
    waiting after a few blocks.
    """

    def __init__(
        self,
        device: Device,
        cache_dir: str | os.PathLike,
        slow_factor: float = 1.75,
        compute_slow_factor: float = 1.05,
        max_others_busy: float = 0.1,
        max_wait_s: float = 10.0,
        relax: float = 1.02,
    ):
        self.device = device
        self.factors = {"fork_join_us": slow_factor, "matmul_us": compute_slow_factor}
        self.max_others_busy = max_others_busy
        self.max_wait_s = max_wait_s
        self.relax = relax
        self.record = Path(cache_dir) / "tvm" / device.name / "sync_probe.json"
        self._timers = None
        self._best = self._load_best()
        self.waited_s = 0.0

    def _load_best(self) -> dict[str, float]:
        try:
            saved = json.loads(self.record.read_text())
            return {name: float(saved[name]) for name in self.factors if name in saved}
        except (OSError, ValueError, TypeError):
            return {}

    def _save_best(self) -> None:
        self.record.parent.mkdir(parents=True, exist_ok=True)
        partial = self.record.with_suffix(".tmp")
        partial.write_text(json.dumps(self._best))
        partial.replace(self.record)

    def _build(self) -> dict[str, Callable[[], float]]:
        """The two probe kernels, compiled for the device (well under a second)."""
        import numpy as np
        import tvm
        from tvm import s_tir, te

        from .tvm_backend import set_runtime_threads

        threads = self.device.num_threads
        set_runtime_threads(threads)

        def timer(schedule, shapes, number: int, repeat: int) -> Callable[[], float]:
            module = tvm.compile(schedule.mod, target=self.device.target).mod
            buffers = [tvm.runtime.tensor(np.random.rand(*shape).astype("float32")) for shape in shapes]
            evaluator = module.time_evaluator("main", tvm.cpu(), number=number, repeat=repeat)
            return lambda: statistics.median(evaluator(*buffers).results) * 1e6

        source = te.placeholder((threads, 64), name="source")
        result = te.compute((threads, 64), lambda i, j: source[i, j] + 1.0, name="result")
        fork_join = s_tir.Schedule(te.create_prim_func([source, result]))
        fork_join.parallel(fork_join.get_loops(fork_join.get_sblock("result"))[0])

        m, k, n = 128, 256, 1024
        a, b = te.placeholder((m, k), name="a"), te.placeholder((k, n), name="b")
        r = te.reduce_axis((0, k), name="r")
        c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="c")
        matmul = s_tir.Schedule(te.create_prim_func([a, b, c]))
        block = matmul.get_sblock("c")
        i, j, reduce = matmul.get_loops(block)
        i_outer, i_inner = matmul.split(i, [None, 8])
        j_outer, j_inner = matmul.split(j, [None, 32])
        matmul.reorder(i_outer, j_outer, reduce, i_inner, j_inner)
        matmul.parallel(matmul.fuse(i_outer, j_outer))
        matmul.unroll(i_inner)
        matmul.vectorize(j_inner)
        matmul.decompose_reduction(block, reduce)
        return {
            "fork_join_us": timer(fork_join, [(threads, 64)] * 2, number=200, repeat=5),
            "matmul_us": timer(matmul, [(m, k), (k, n), (m, n)], number=1, repeat=10),
        }

    def read(self) -> dict[str, float]:
        """One reading of each probe, in microseconds (about 5 ms in all)."""
        if self._timers is None:
            self._timers = self._build()
        return {name: timer() for name, timer in self._timers.items()}

    def _is_normal(self, reading: dict[str, float]) -> bool:
        """Record new bests, then compare with them."""
        improved = False
        for name, value in reading.items():
            if value < self._best.get(name, float("inf")):
                self._best[name] = value
                improved = True
        if improved:
            self._save_best()
        return all(value <= self._best[name] * self.factors[name] for name, value in reading.items())

    def others_busy(self, window_s: float = 0.2) -> float:
        """Cores' worth of CPU that other processes used over ``window_s`` while this one slept."""
        own_before, busy_before, start = os.times(), _busy_seconds(), time.monotonic()
        time.sleep(window_s)
        own_after, busy_after = os.times(), _busy_seconds()
        own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
        return max(0.0, busy_after - busy_before - own) / (time.monotonic() - start)

    def wait_until_normal(self) -> bool:
        """Wait until other processes leave the cores alone (under ``max_others_busy`` of a
        core over 0.2 s) and both probes read within their factor of the best: True then,
        False after ``max_wait_s`` (the block is timed anyway, and marked slow)."""
        if self.device.rpc is not None or self.device.runtime_kind != "cpu":
            return True  # the cores being timed are not this machine's
        start = time.monotonic()
        normal = False
        while time.monotonic() - start < self.max_wait_s:
            if self.others_busy() > self.max_others_busy:
                continue
            if self._is_normal(self.read()):
                normal = True
                break
            time.sleep(0.3)
        if not normal:
            logger.info("no normal phase of %s within %.0f s; timing anyway", self.device.name, self.max_wait_s)
            self._best = {name: value * self.relax for name, value in self._best.items()}
            self._save_best()
        self.waited_s += time.monotonic() - start
        # The pool's workers spin for a moment after the probe; let them sleep before timing.
        time.sleep(0.02)
        return normal
