"""TVM (relax) backend: ONNX -> relax -> MetaSchedule-tuned, weight-prepacked module, timed on the device."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import tvm
from tvm import relax

from ...devices import Device
from ...files import scratch_dir
from ...measurement import MeasureProtocol, in_blocks, warm_up
from ...onnx_files import graph_inputs
from ..base import CompileStats
from ..tuning import TuningSettings
from .kernel_cache import KernelCache
from .lowering import lower
from .memory import planned_bytes
from .runtime import set_runtime_threads
from .task_tuner import TaskTuner


class TvmBackend:
    """Compiles ONNX models for one device, sharing one tuning database across all of them."""

    name = "tvm"
    needs_onnx = True

    def __init__(self, device: Device, cache_dir: str | os.PathLike, tuning: TuningSettings):
        self.device = device
        self.tuner = TaskTuner(device, Path(cache_dir) / "tvm" / device.name, tuning)
        self.target = tvm.target.Target(device.target)
        self.kernels = KernelCache(self.target)
        set_runtime_threads(device.num_threads)

    def compile(self, onnx_path: Path, batch: int, seq_len: int, weights_apart: bool = False):
        """The compiled relax executable, the weights it takes, and what compiling it cost.

        By default the weights are constants, prepacked at compile time: a self-contained
        library whose ``main`` takes the token tensors alone, as deployed. With
        ``weights_apart`` they stay arguments: the layout rewrites are lifted into
        ``main_transform_params``, run once at load, and ``main`` takes the tokens and the
        prepacked weights. Same kernels and timings in about half the compile time, so
        timing on a local device uses it.
        """
        start = time.perf_counter()
        mod, weights = lower(
            onnx_path, batch, seq_len, self.target, weights_apart, matmul_rule=self.tuner.settings.matmuls == "rule"
        )
        hot = self.tuner.hot_tasks(mod, self.target)
        new = [task for task in hot if not self.tuner.is_tuned(task, self.target)]
        tune_s = 0.0
        if new:
            tune_start = time.perf_counter()
            self.tuner.tune(new)
            tune_s = time.perf_counter() - tune_start
        with self.target, self.tuner.database:
            prepack = [
                relax.transform.MetaScheduleApplyDatabase(),
                relax.transform.SplitLayoutRewritePreproc(),
                relax.transform.LiftTransformParams(),
            ]
            mod = tvm.transform.Sequential(prepack if weights_apart else [*prepack, relax.transform.FoldConstant()])(
                mod
            )
            mod = relax.get_pipeline("default")(mod)  # what tvm.compile runs, here to read the memory plan
        # Timed here: kernels built for earlier candidates are reused; a library to ship is built whole.
        executable = (
            self.kernels.build(mod) if weights_apart else tvm.compile(mod, target=self.target, relax_pipeline=None)
        )
        stats = CompileStats(
            time.perf_counter() - start - tune_s,
            tune_s,
            len(new),
            len(hot) - len(new),
            peak_memory_bytes=planned_bytes(mod, weights),
        )
        return executable, weights, stats

    def export_library(self, executable, path: str | os.PathLike) -> None:
        """Write ``executable`` as a shared library for the device, linked by the host's
        compiler unless the device names a cross compiler (``cc``)."""
        linker = None
        if self.device.cc is not None:
            from tvm.support.cc import cross_compiler

            linker = cross_compiler(self.device.cc)
        executable.export_library(str(path), fcompile=linker)

    def measure(self, model, onnx_path: Path, batch: int, seq_len: int, protocol: MeasureProtocol, before_block):
        """Per-run milliseconds, timed by TVM's own evaluator on the device (only the list of
        timings crosses the network for a remote one)."""
        # TVM's RPC passes tensors but not arrays of them, which main_transform_params
        # takes: a remote device gets the self-contained library (weights folded in).
        remote = self.device.rpc is not None
        executable, weights, stats = self.compile(onnx_path, batch, seq_len, weights_apart=not remote)
        with scratch_dir() as tmp:
            if remote:
                session, module, dev = self._upload(executable, Path(tmp))
            else:
                session, module, dev = None, executable, tvm.device(self.device.runtime_kind)
                set_runtime_threads(self.device.num_threads)  # the pool is per calling thread
            vm = relax.VirtualMachine(module, dev)
            tokens = [
                tvm.runtime.tensor(np.zeros((batch, seq_len), dtype="int64"), dev) for _ in graph_inputs(onnx_path)
            ]
            on_device: dict[int, tvm.runtime.Tensor] = {}  # a written graph's layers share arrays
            for weight in weights:
                on_device.setdefault(id(weight), tvm.runtime.tensor(weight, dev))
            prepacked = vm["main_transform_params"]([on_device[id(w)] for w in weights]) if weights else []
            vm.set_input("main", *tokens, *prepacked)
            run_ms = warm_up(lambda: vm.invoke_stateful("main"), protocol)

            def block(repeats: int) -> list[float]:
                timer = vm.time_evaluator(
                    "invoke_stateful", dev, number=1, repeat=repeats, min_repeat_ms=int(protocol.min_repeat_ms)
                )
                return [seconds * 1e3 for seconds in timer("main").results]

            samples_ms = in_blocks(block, protocol, run_ms, before_block)
            del session  # held until the timing is done
        return samples_ms, stats

    def _upload(self, executable, tmp: Path):
        """The RPC session, the library loaded on the remote device, and its device handle."""
        session = self.device.rpc.connect()
        session.get_function("runtime.config_threadpool")(1, self.device.num_threads)
        library = tmp / "model.so"
        self.export_library(executable, library)
        session.upload(str(library))
        return session, session.load_module(library.name), session.device(self.device.runtime_kind)
