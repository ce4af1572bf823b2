"""ONNX Runtime backends: the runtime most users would otherwise ship, as the baselines."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..devices import Device
from ..files import scratch_dir
from ..measurement import MeasureProtocol, time_callable
from .base import CompileStats


class OrtBackend:
    """Plain ``InferenceSession`` at ``ORT_ENABLE_ALL``, with the device's thread count."""

    name = "ort"
    needs_onnx = True
    #: Whether the graph goes through ORT's transformer optimizer first (``OrtOptimizedBackend``).
    optimize = False

    def __init__(self, device: Device):
        self.device = device

    def provider(self) -> str:
        """CUDA's execution provider on a GPU device (``onnxruntime-gpu``), the CPU's otherwise."""
        if self.device.runtime_kind == "cpu":
            return "CPUExecutionProvider"
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError(
                f"device {self.device.name!r} is a GPU but this ONNX Runtime has no CUDAExecutionProvider: "
                "install onnxruntime-gpu in place of onnxruntime"
            )
        return "CUDAExecutionProvider"

    def measure(self, model, onnx_path: Path, batch: int, seq_len: int, protocol: MeasureProtocol, before_block):
        if not self.optimize:
            return self._measure(onnx_path, batch, seq_len, protocol, before_block)
        from .ort_fusion import optimize_for_ort

        start = time.perf_counter()
        with scratch_dir() as tmp:
            fused = optimize_for_ort(onnx_path, Path(tmp) / "optimized.onnx")
            optimize_s = time.perf_counter() - start
            samples, stats = self._measure(Path(tmp) / "optimized.onnx", batch, seq_len, protocol, before_block)
        return samples, CompileStats(optimize_s + stats.compile_s, fused_ops=tuple(fused.items()))

    def _measure(self, onnx_path: Path, batch: int, seq_len: int, protocol: MeasureProtocol, before_block):
        start = time.perf_counter()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.device.num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(onnx_path), options, providers=[self.provider()])
        feeds = {i.name: np.zeros((batch, seq_len), dtype=np.int64) for i in session.get_inputs()}
        stats = CompileStats(time.perf_counter() - start)
        samples = time_callable(lambda: session.run(None, feeds), protocol, before_block)
        return samples, stats


class OrtOptimizedBackend(OrtBackend):
    """ONNX Runtime on the graph ``onnxruntime.transformers.optimizer`` fused (attention
    included, see ``ort_fusion``): the strongest ONNX Runtime baseline a user could ship."""

    name = "ort-opt"
    optimize = True
