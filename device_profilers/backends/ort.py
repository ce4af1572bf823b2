"""ONNX Runtime backend: the runtime most users would otherwise ship, as the baseline."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..devices import Device
from ..measurement import MeasureProtocol, time_callable
from .base import CompileStats


class OrtBackend:
    """Plain ``InferenceSession`` at ``ORT_ENABLE_ALL``, with the device's thread count."""

    name = "ort"
    needs_onnx = True

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
