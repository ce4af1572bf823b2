"""PyTorch eager backend: what the model costs before any compiler touches it."""

from __future__ import annotations

import time

import torch

from ..devices import Device
from ..measurement import MeasureProtocol, time_callable
from .base import CompileStats


class TorchBackend:
    """The PyTorch module itself, eager, with the device's thread count."""

    name = "torch"
    needs_onnx = False

    def __init__(self, device: Device):
        self.device = device

    def measure(
        self, model: torch.nn.Module, onnx_path, batch: int, seq_len: int, protocol: MeasureProtocol, before_block
    ):
        start = time.perf_counter()
        torch.set_num_threads(self.device.num_threads)
        place = self.device.runtime_kind
        model = model.eval().to(place)
        input_ids = torch.zeros(batch, seq_len, dtype=torch.long, device=place)
        stats = CompileStats(time.perf_counter() - start)

        def run() -> None:
            model(input_ids=input_ids)
            if place == "cuda":
                torch.cuda.synchronize()  # a GPU call returns before the work is done

        with torch.inference_mode():
            samples = time_callable(run, protocol, before_block)
        return samples, stats
