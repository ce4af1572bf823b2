"""The measurement protocol every backend follows, and the timing loops that carry it out.

Why blocks, the quietest block and the quiet-core wait: ``docs/latency-measurement.md``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator


class MeasureProtocol(BaseModel):
    """How one latency is measured, the same for every backend.

    ``warmup`` untimed runs (at least one; a slow model stops after two once ``warmup_ms``
    has passed), then blocks of ``repeats`` timed samples
    starting at least ``block_pause_s`` apart: at least ``blocks`` blocks, and more (up to
    ``max_blocks``) until the two quietest blocks agree within ``agree``. Each sample
    times enough back-to-back runs to last ``min_repeat_ms`` and records the mean per
    run. A block lasts about ``block_ms`` at most: a slow model gets fewer samples per
    block, down to ``min_block_repeats``. The latency is the median of the block with the
    lowest median, with that block's p90 and coefficient of variation; every block's
    median is kept. Before each block a local CPU device waits up to ``quiet_wait_s`` for
    quiet cores (``SyncProbe``); 0 times at once, which suits checking that a model runs,
    not a latency to compare.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    warmup: StrictInt = Field(5, ge=0, description="untimed runs first (at least one is made)")
    warmup_ms: StrictInt = Field(
        150, ge=0, description="untimed runs stop after two once this long has passed (slow models warm up sooner)"
    )
    repeats: StrictInt = Field(15, ge=3, description="timed samples per block")
    min_repeat_ms: StrictInt = Field(10, gt=0, description="each sample times back-to-back runs for at least this long")
    blocks: StrictInt = Field(4, ge=1, description="blocks at least")
    block_pause_s: StrictFloat = Field(0.25, ge=0, description="blocks start at least this far apart")
    max_blocks: StrictInt = Field(8, ge=1, description="blocks at most, while the two quietest disagree")
    agree: StrictFloat = Field(0.03, gt=0, lt=1, description="the two quietest blocks agree within this share")
    block_ms: StrictInt = Field(
        400, gt=0, description="a block lasts about this long at most (slow models get fewer samples)"
    )
    min_block_repeats: StrictInt = Field(5, ge=3, description="samples per block at least, however slow the model")
    quiet_wait_s: StrictFloat = Field(
        10.0, ge=0, description="a local CPU block waits up to this long for quiet cores; 0 times at once"
    )

    @model_validator(mode="after")
    def _enough_blocks(self) -> MeasureProtocol:
        if self.max_blocks < self.blocks:
            raise ValueError(f"max_blocks ({self.max_blocks}) must be at least blocks ({self.blocks})")
        return self

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
    """Call ``run_block(repeats)`` block after block, at least ``block_pause_s`` apart, until
    the protocol is settled; ``run_ms`` (one run, seen in warm-up) sizes the blocks, and
    ``before_block`` runs ahead of each (where the profiler waits for quiet cores)."""
    repeats = protocol.block_repeats(run_ms)
    blocks: list[list[float]] = []
    started = time.monotonic()
    while not blocks or not protocol.settled([statistics.median(block) for block in blocks]):
        if blocks:
            time.sleep(max(0.0, protocol.block_pause_s - (time.monotonic() - started)))
        before_block()
        started = time.monotonic()
        blocks.append(run_block(repeats))
    return blocks


def warm_up(run: Callable[[], Any], protocol: MeasureProtocol) -> float:
    """Run ``protocol.warmup`` times (at least once) untimed, or stop after the second run
    once ``warmup_ms`` has passed; milliseconds of the last run."""
    start = time.perf_counter()
    for index in range(max(1, protocol.warmup)):
        before = time.perf_counter()
        run()
        after = time.perf_counter()
        if index >= 1 and (after - start) * 1e3 >= protocol.warmup_ms:
            break
    return max((after - before) * 1e3, 1e-3)


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
