"""The values a measurement is asked for and answers with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MeasureTarget:
    """Where and at which shape a latency is measured: these four travel together from the
    config to the broker, the cache, the predictor and the latency record."""

    device: str = "local-cpu"
    backend: str = "tvm"
    batch: int = 1
    seq_len: int = 128

    def cache_key(self, model_key: str) -> str:
        """The latency cache's key of ``model_key`` (an Arch key or ``onnx-<hash>``) here."""
        return f"{model_key}|{self.device}|{self.backend}|b{self.batch}|s{self.seq_len}"


@dataclass(frozen=True)
class Latency:
    """One measured latency of one model on one device and backend."""

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
    waited_s: float = 0.0  # spent waiting for quiet cores (see SyncProbe)
    cached: bool = False  # served from the cache or from an identical request's measurement
    started_at: float = 0.0  # when the profiler took the request (export, compile and timing follow)
    measured_at: float = 0.0  # when the timing ended
    node: str = ""  # the Ray node whose profiler measured it (where the device is)
    replica: int = 0  # which of the device's replicas measured it (see Device.replicas)
    fused_ops: tuple[tuple[str, int], ...] = ()  # fused operators of the timed graph (ort-opt)
    model_bytes: int = 0  # the exported graph with its weights, as shipped (0: the backend timed no ONNX graph)
    peak_memory_bytes: int = 0  # weights plus planned activation storage of the compiled model (0: not known)

    @property
    def target(self) -> MeasureTarget:
        return MeasureTarget(self.device, self.backend, self.batch, self.seq_len)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Latency:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        known["block_medians_ms"] = tuple(known.get("block_medians_ms", ()))
        known["fused_ops"] = tuple(tuple(pair) for pair in known.get("fused_ops", ()))
        return cls(**known)

    def served_again(self) -> Latency:
        """This latency handed to another request without measuring: it cost that request no
        compilation, so run-level compile totals stay right."""
        return dataclasses.replace(self, cached=True, compile_s=0.0, tune_s=0.0, tuned_tasks=0)
