"""Latency values and the measurement protocol every backend follows."""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class MeasureProtocol:
    """How one latency is measured, the same for every backend.

    ``warmup`` untimed runs (at least one), then blocks of ``repeats`` timed samples
    starting at least ``block_pause_s`` apart (a shorter block is followed by a pause;
    a longer one spreads its samples over time by itself): at least ``blocks`` blocks,
    and more (up to ``max_blocks``) until the two quietest blocks agree within
    ``agree``. Each sample times enough back-to-back runs to last at least
    ``min_repeat_ms`` (so timer resolution and per-call overhead stay negligible) and
    records the mean per run.
    A block lasts about ``block_ms`` at most: a model slower than ``block_ms /
    repeats`` per run gets fewer samples per block, down to ``min_block_repeats``
    (at 15 samples, BERT-base at ~160 ms a run spent 2.4 s per block and 10-20 s per
    measurement). The latency is the median of the block with
    the lowest median; p90 and the coefficient of variation describe that block, and
    the medians of all blocks are kept to show the spread between them.
    Before each block a local CPU device waits up to ``quiet_wait_s`` for quiet cores
    (``SyncProbe``); 0 times at once, in whatever phase the machine is, which suits a
    smoke test or a check that a model runs, not a latency to compare.

    Why blocks: on a shared 2-core machine another process (Ray's own start-up, a
    trial being set up) can take a core for seconds; every thread of a parallel
    kernel then waits for the slowest, and a whole block reads 1.5-2x slow; such
    phases were seen here at idle too (the host's neighbours), lasting seconds. Blocks
    spread over several seconds let one of them land in a quiet stretch; interference
    only ever adds time, so the quietest block is the device's own latency.
    """

    warmup: int = 5
    repeats: int = 15
    min_repeat_ms: int = 25
    blocks: int = 4
    block_pause_s: float = 1.0
    max_blocks: int = 8
    agree: float = 0.03
    block_ms: int = 1000
    min_block_repeats: int = 5
    quiet_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.repeats < 3 or self.min_repeat_ms <= 0 or self.blocks < 1 or self.block_pause_s < 0:
            raise ValueError(
                "protocol needs warmup >= 0, repeats >= 3, min_repeat_ms > 0, blocks >= 1 and "
                f"block_pause_s >= 0, got {self}"
            )
        if self.max_blocks < self.blocks or not 0 < self.agree < 1:
            raise ValueError(f"protocol needs max_blocks >= blocks and 0 < agree < 1, got {self}")
        if self.block_ms <= 0 or self.min_block_repeats < 3 or self.quiet_wait_s < 0:
            raise ValueError(f"protocol needs block_ms > 0, min_block_repeats >= 3 and quiet_wait_s >= 0, got {self}")

    def block_repeats(self, run_ms: float) -> int:
        """Samples per block for a model taking ``run_ms`` per run (see ``block_ms``)."""
        sample_ms = max(run_ms, self.min_repeat_ms)
        return min(self.repeats, max(self.min_block_repeats, int(self.block_ms / sample_ms)))

    def settled(self, block_medians: list[float]) -> bool:
        """Enough blocks: at least ``blocks``, and the two quietest agree within ``agree``
        (one quiet block alone may be luck), or ``max_blocks`` reached."""
        if len(block_medians) >= self.max_blocks:
            return True
        if len(block_medians) < max(self.blocks, 2):
            return False
        lowest, second = sorted(block_medians)[:2]
        return second <= lowest * (1 + self.agree)


@dataclass(frozen=True)
class Latency:
    """One measured latency of one architecture on one device and backend."""

    arch_key: str
    device: str
    backend: str
    batch: int
    seq_len: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    cv: float
    min_ms: float
    repeats: int
    block_medians_ms: tuple[float, ...] = ()
    compile_s: float = 0.0
    tune_s: float = 0.0
    tuned_tasks: int = 0
    reused_tasks: int = 0
    waited_s: float = 0.0  # spent waiting for the cores to leave a slow phase (see SyncProbe)
    cached: bool = False  # served from the cache or from an identical request's measurement
    started_at: float = 0.0  # when the profiler took the request (export, compile and timing follow)
    measured_at: float = 0.0  # when the timing ended
    node: str = ""  # the Ray node whose profiler measured it (where the device is)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Latency":
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        known["block_medians_ms"] = tuple(known.get("block_medians_ms", ()))
        return cls(**known)


def summarize(blocks_ms: list[list[float]]) -> dict[str, Any]:
    """Median, p90, mean, CV of the quietest block (lowest median); minimum and block medians over all."""
    medians = [statistics.median(block) for block in blocks_ms]
    quiet = sorted(blocks_ms[medians.index(min(medians))])
    mean = statistics.fmean(quiet)
    p90_index = min(len(quiet) - 1, round(0.9 * (len(quiet) - 1)))
    return {
        "median_ms": statistics.median(quiet),
        "p90_ms": quiet[p90_index],
        "mean_ms": mean,
        "cv": statistics.pstdev(quiet) / mean if mean > 0 else 0.0,
        "min_ms": min(min(block) for block in blocks_ms),
        "repeats": len(quiet),
        "block_medians_ms": tuple(medians),
    }


def _nothing() -> None:
    return None


def in_blocks(
    run_block: Callable[[int], list[float]],
    protocol: MeasureProtocol,
    run_ms: float,
    before_block: Callable[[], None] = _nothing,
) -> list[list[float]]:
    """Call ``run_block(repeats)`` block after block, starting them at least
    ``block_pause_s`` apart, until the protocol is settled (see
    ``MeasureProtocol.settled``); ``run_ms``, the time of one run seen in warm-up,
    sizes the blocks. ``before_block`` runs ahead of each block
    (the profiler waits there for the cores to be in a normal phase)."""
    repeats = protocol.block_repeats(run_ms)
    blocks: list[list[float]] = []
    while not blocks or not protocol.settled([statistics.median(block) for block in blocks]):
        if blocks:
            time.sleep(max(0.0, protocol.block_pause_s - (time.monotonic() - started)))
        before_block()
        started = time.monotonic()
        blocks.append(run_block(repeats))
    return blocks


def warm_up(run: Callable[[], Any], protocol: MeasureProtocol) -> float:
    """Run ``protocol.warmup`` times (at least once) untimed; milliseconds of the last run."""
    for _ in range(max(0, protocol.warmup - 1)):
        run()
    start = time.perf_counter()
    run()
    return max((time.perf_counter() - start) * 1e3, 1e-3)


def time_callable(
    run: Callable[[], Any], protocol: MeasureProtocol, before_block: Callable[[], None] = _nothing
) -> list[list[float]]:
    """Per-run milliseconds of ``run`` under ``protocol``, by block (backends timed from Python)."""
    single_ms = warm_up(run, protocol)
    number = max(1, int(protocol.min_repeat_ms / single_ms + 0.999))

    def block(repeats: int) -> list[float]:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                run()
            samples.append((time.perf_counter() - start) * 1e3 / number)
        return samples

    return in_blocks(block, protocol, single_ms, before_block)
