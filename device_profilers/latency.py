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

    ``warmup`` untimed runs, then ``repeats`` timed samples; each sample times enough
    back-to-back runs to last at least ``min_repeat_ms`` (so timer resolution and
    per-call overhead stay negligible) and records the mean per run. The median of the
    samples is the latency; p90 and the coefficient of variation describe its spread.
    """

    warmup: int = 5
    repeats: int = 30
    min_repeat_ms: int = 25

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.repeats < 3 or self.min_repeat_ms <= 0:
            raise ValueError(
                "protocol needs warmup >= 0, repeats >= 3 and min_repeat_ms > 0, got "
                f"{self}"
            )


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
    compile_s: float = 0.0
    tune_s: float = 0.0
    tuned_tasks: int = 0
    reused_tasks: int = 0
    cached: bool = False
    measured_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Latency":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """Median, p90, mean, coefficient of variation and minimum of per-run samples."""
    ordered = sorted(samples_ms)
    mean = statistics.fmean(ordered)
    p90_index = min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))
    return {
        "median_ms": statistics.median(ordered),
        "p90_ms": ordered[p90_index],
        "mean_ms": mean,
        "cv": statistics.pstdev(ordered) / mean if mean > 0 else 0.0,
        "min_ms": ordered[0],
        "repeats": len(ordered),
    }


def time_callable(run: Callable[[], Any], protocol: MeasureProtocol) -> list[float]:
    """Per-run milliseconds of ``run`` under ``protocol`` (for backends timed from Python)."""
    for _ in range(protocol.warmup):
        run()
    start = time.perf_counter()
    run()
    single_ms = max((time.perf_counter() - start) * 1e3, 1e-3)
    number = max(1, int(protocol.min_repeat_ms / single_ms + 0.999))
    samples = []
    for _ in range(protocol.repeats):
        start = time.perf_counter()
        for _ in range(number):
            run()
        samples.append((time.perf_counter() - start) * 1e3 / number)
    return samples
