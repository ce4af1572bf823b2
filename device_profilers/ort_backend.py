"""ONNX Runtime backend: the runtime most users would otherwise ship, as the baseline."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .devices import Device
from .latency import MeasureProtocol, time_callable
from .tvm_backend import CompileStats


class OrtBackend:
    name = "ort"
    needs_onnx = True

    def __init__(self, device: Device):
        self.device = device

    def measure(self, model, onnx_path: Path, batch: int, seq_len: int, protocol: MeasureProtocol):
        import onnxruntime as ort

        start = time.perf_counter()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.device.num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        feeds = {"input_ids": np.zeros((batch, seq_len), dtype=np.int64)}
        stats = CompileStats(time.perf_counter() - start, 0.0, 0, 0)
        samples = time_callable(lambda: session.run(None, feeds), protocol)
        return samples, stats
