"""TVM (relax) backend: ONNX -> relax -> MetaSchedule-tuned, weight-prepacked CPU module."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .devices import Device
from .jsonl import trim_partial_line
from .latency import MeasureProtocol, in_blocks, warm_up
from .onnx_export import graph_inputs
from .scratch import scratch_dir
from .tvmscript_import import import_tensor_intrinsics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuningSettings:
    """How much MetaSchedule tuning a newly seen operator shape gets.

    Only tasks holding at least ``min_flops_share`` of the model's FLOPs are tuned (the
    matmuls; at short sequences and small widths layer norm and softmax pass too); the
    rest keep TVM's default schedule. A task already in the device's database is never
    tuned again. The default budget is small so a search on a cold cache stays quick
    (a task costs ~4 s at 8 trials, ~7 s at 16, here); give the shapes you will deploy
    more with ``canao tune`` and a larger ``trials_per_task``.
    """

    trials_per_task: int = 8
    min_flops_share: float = 0.01
    population_size: int = 128
    genetic_num_iters: int = 2
    runner_min_repeat_ms: int = 40

    def __post_init__(self) -> None:
        if self.trials_per_task < 0:
            raise ValueError("trials_per_task must be >= 0 (0 disables tuning)")
        if not 0.0 <= self.min_flops_share <= 1.0:
            raise ValueError("min_flops_share must be within [0, 1]")


@dataclass(frozen=True)
class CompileStats:
    compile_s: float
    tune_s: float
    tuned_tasks: int
    reused_tasks: int


LOCAL_RUNTIME_ENV = {"TVM_BIND_THREADS": "0"}
"""Environment of a local profiler's TVM runtime.

TVM pins its pool's worker threads to cores but leaves the calling thread free, so
the caller can land on a worker's core and the two then share it: whole blocks of
samples read 1.5x slow, and the same compiled model measured in 4 fresh profilers
spread 49% (CV 17%). Unpinned, the OS keeps them apart: 3.2% (CV 1.3%), same run.
"""


def set_runtime_threads(num_threads: int) -> None:
    """Fix the TVM runtime's thread pool size (it picked one thread by default here), unpinned.

    TVM gives each calling thread one pool, sized from ``TVM_NUM_THREADS`` when the
    thread first uses it; reconfiguring can use fewer of its workers, never more. A pool
    set first to one thread therefore stayed at one for a later two-thread device in the
    same process. So a pool is created with a worker per core available to the process,
    then told how many to use; child processes (MetaSchedule's runner) still read the
    device's count from the variable.
    """
    import tvm

    os.environ.update(LOCAL_RUNTIME_ENV, TVM_NUM_THREADS=str(max(num_threads, len(os.sched_getaffinity(0)))))
    tvm.get_global_func("runtime.config_threadpool")(1, num_threads)
    os.environ["TVM_NUM_THREADS"] = str(num_threads)


class TvmBackend:
    """Compiles ONNX models for one device, sharing one tuning database across all of them."""

    name = "tvm"
    needs_onnx = True

    def __init__(self, device: Device, cache_dir: str | os.PathLike, tuning: TuningSettings):
        from tvm.s_tir import meta_schedule as ms

        import_tensor_intrinsics()
        self.device = device
        self.tuning = tuning
        self.work_dir = Path(cache_dir) / "tvm" / device.name
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # TVM appends one JSON line per record; a profiler killed mid-append leaves a cut
        # line that TVM refuses to load ("Unexpected end of string"), which would stop
        # this device from ever compiling again. The cut record is lost, nothing else.
        for name in ("database_workload.json", "database_tuning_record.json"):
            trim_partial_line(self.work_dir / name)
        self.database = ms.database.JSONDatabase(work_dir=str(self.work_dir))
        self._pooled_builder = None
        self._local_runner = None
        set_runtime_threads(device.num_threads)

    @property
    def target(self):
        import tvm

        return tvm.target.Target(self.device.target)

    def _lower(self, onnx_path: Path, batch: int, seq_len: int, weights_apart: bool):
        """The relax module of the graph, and its weights when ``weights_apart`` (see ``compile``)."""
        import onnx
        import tvm
        from tvm import relax
        from tvm.relax.frontend.onnx import from_onnx

        # Every input here is a [batch, sequence] token tensor (input_ids, and in exported
        # bundles attention_mask and token_type_ids); TVM compiles for one fixed shape.
        tokens = graph_inputs(onnx_path)
        if weights_apart:
            graph, weights = _weights_as_inputs(onnx_path)
        else:
            graph, weights = onnx.load(str(onnx_path)), []
        with warnings.catch_warnings():
            # Weight inputs are named after torch parameters ("encoder.layer.0...."): the
            # importer renames each to a valid identifier and warns, to no one's use.
            warnings.filterwarnings("ignore", message="Renaming name")
            mod = from_onnx(graph, shape_dict={name: [batch, seq_len] for name in tokens})
        if weights:
            # The weight inputs follow the tokens; num_input tells the passes below which
            # parameters are weights (LiftTransformParams prepacks those).
            mod["main"] = mod["main"].with_attr("num_input", len(tokens))
        with self.target:
            mod = tvm.transform.Sequential(
                [
                    relax.transform.DecomposeOpsForInference(),
                    relax.transform.CanonicalizeBindings(),
                    relax.get_pipeline("zero"),
                    # Marks weights as layout-free so tuned matmuls may prepack them.
                    relax.transform.AttachAttrLayoutFreeBuffers(),
                ]
            )(mod)
        return mod, weights

    def _hot_tasks(self, mod) -> list[Any]:
        from tvm.s_tir import meta_schedule as ms
        from tvm.s_tir.analysis import estimate_tir_flops

        tasks = ms.relax_integration.extract_tasks(mod, self.target)
        flops = [estimate_tir_flops(task.dispatched[0]) * task.weight for task in tasks]
        total = sum(flops) or 1.0
        return [t for t, f in zip(tasks, flops) if f / total >= self.tuning.min_flops_share]

    def _is_tuned(self, task) -> bool:
        record = self.database.query_tuning_record(task.dispatched[0], self.target, task.task_name)
        return record is not None

    def _tune(self, tasks: list[Any]) -> None:
        from tvm.s_tir import meta_schedule as ms

        strategy = ms.search_strategy.EvolutionarySearch(
            population_size=self.tuning.population_size,
            genetic_num_iters=self.tuning.genetic_num_iters,
        )
        log_dir = self.work_dir / "logs"
        contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
            tasks, str(log_dir), strategy=strategy, seed=0, num_threads=self.device.num_threads
        )
        trials = self.tuning.trials_per_task
        ms.tune_tasks(
            tasks=contexts,
            task_weights=weights,
            work_dir=str(log_dir),
            max_trials_global=trials * len(contexts),
            max_trials_per_task=trials,
            num_trials_per_iter=trials,
            builder=self._builder(),
            runner=self._runner(),
            database=self.database,
        )

    def _builder(self):
        """The candidate builder, started once and kept: its workers' start-up (importing
        TVM) cost more than the compiling itself when each batch started fresh ones."""
        if self._pooled_builder is None:
            from .pooled_builder import PooledBuilder

            self._pooled_builder = PooledBuilder(max_workers=self.device.num_threads)
        return self._pooled_builder

    def _runner(self):
        """Where tuning candidates are timed: here, or on the remote device through its tracker.
        A local runner is kept, like the builder, so its worker process starts once.

        The builder exports candidates as TVM's default tar archive, which the device's
        RPC server links; a device without a linker (a phone's RPC app) has to be tuned
        with a Linux board of the same CPU, or pre-tuned databases copied into its cache.
        """
        from tvm.s_tir import meta_schedule as ms

        evaluator = ms.runner.EvaluatorConfig(
            number=3, repeat=1, min_repeat_ms=self.tuning.runner_min_repeat_ms, enable_cpu_cache_flush=False
        )
        rpc = self.device.rpc
        if rpc is None:
            if self._local_runner is None:
                self._local_runner = ms.runner.LocalRunner(evaluator_config=evaluator)
            return self._local_runner
        config = ms.runner.RPCConfig(
            tracker_host=rpc.tracker_host,
            tracker_port=rpc.tracker_port,
            tracker_key=rpc.key,
            session_timeout_sec=rpc.session_timeout_s,
        )
        return ms.runner.RPCRunner(rpc_config=config, evaluator_config=evaluator)

    def compile(self, onnx_path: Path, batch: int, seq_len: int, weights_apart: bool = False):
        """The compiled relax executable, the weights it takes, and what compiling it cost.

        By default the weights are constants of the module, prepacked at compile time
        (constant folding of the layout rewrites): a self-contained library whose ``main``
        takes the token tensors alone, as deployed. With ``weights_apart`` they stay
        arguments: the rewrites are lifted into ``main_transform_params``, compiled with
        the rest in one build and run once at load, and ``main`` takes the tokens and
        the prepacked weights. Same kernels, same timings, and half the compile time:
        folding builds and runs every rewrite on its own (a 5-layer, 384-wide model
        compiled in 5.2 s folded, 2.5 s apart, here), so timing on a local device uses it.
        """
        import tvm
        from tvm import relax

        start = time.perf_counter()
        mod, weights = self._lower(onnx_path, batch, seq_len, weights_apart)
        hot = self._hot_tasks(mod) if self.tuning.trials_per_task > 0 else []
        new = [task for task in hot if not self._is_tuned(task)]
        tune_s = 0.0
        if new:
            tune_start = time.perf_counter()
            self._tune(new)
            tune_s = time.perf_counter() - tune_start
        with self.target, self.database:
            prepack = [
                relax.transform.MetaScheduleApplyDatabase(),
                relax.transform.SplitLayoutRewritePreproc(),
                relax.transform.LiftTransformParams(),
            ]
            mod = tvm.transform.Sequential(prepack if weights_apart else [*prepack, relax.transform.FoldConstant()])(mod)
        executable = tvm.compile(mod, target=self.target)
        stats = CompileStats(
            compile_s=time.perf_counter() - start - tune_s,
            tune_s=tune_s,
            tuned_tasks=len(new),
            reused_tasks=len(hot) - len(new),
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
        """Per-run milliseconds, timed by TVM's own evaluator (no Python in the loop).

        On a remote device the same evaluator runs on the device: only the list of
        per-run times crosses the network, so RPC latency does not enter the samples.
        """
        import tvm
        from tvm import relax

        # TVM's RPC passes tensors but not arrays of them, which main_transform_params
        # takes: a remote device gets the self-contained library (weights folded in).
        executable, weights, stats = self.compile(onnx_path, batch, seq_len, weights_apart=self.device.rpc is None)
        with scratch_dir() as tmp:
            if self.device.rpc is None:
                session, dev, module = None, tvm.device(self.device.runtime_kind), executable
            else:
                session = self.device.rpc.connect()
                session.get_function("runtime.config_threadpool")(1, self.device.num_threads)
                library = Path(tmp) / "model.so"
                self.export_library(executable, library)
                session.upload(str(library))
                module, dev = session.load_module(library.name), session.device(self.device.runtime_kind)
            if session is None:
                # TVM's thread pool is per calling thread, and Ray may call from any thread.
                set_runtime_threads(self.device.num_threads)
            vm = relax.VirtualMachine(module, dev)
            tokens = [tvm.runtime.tensor(np.zeros((batch, seq_len), dtype="int64"), dev) for _ in graph_inputs(onnx_path)]
            prepacked = vm["main_transform_params"]([tvm.runtime.tensor(w, dev) for w in weights]) if weights else []
            vm.set_input("main", *tokens, *prepacked)
            run_ms = warm_up(lambda: vm.invoke_stateful("main"), protocol)

            def block(repeats: int) -> list[float]:
                timer = vm.time_evaluator(
                    "invoke_stateful", dev, number=1, repeat=repeats, min_repeat_ms=int(protocol.min_repeat_ms)
                )
                return [seconds * 1e3 for seconds in timer("main").results]

            samples_ms = in_blocks(block, protocol, run_ms, before_block)
        return samples_ms, stats


def _weights_as_inputs(onnx_path: Path):
    """The ONNX graph with its weight matrices (2-D float32 initializers) turned into graph
    inputs, and their values in input order.

    The rest (biases, norms, and what the exporter precomputed: position embeddings, the
    additive attention mask, reshape targets) stays in the graph, so the importer folds
    exactly what it folds in the self-contained build: the operator workloads, hence
    the tuning records and the kernels, are the same in both. Done on the ONNX graph
    rather than after import because TVM's importer first runs ONNX's checker, which
    serialises the whole model: with BERT-base's weights inside, loading and importing
    took 4.5 s, most of it that copy.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(onnx_path), load_external_data=False)
    graph, base_dir = model.graph, str(onnx_path.parent)
    kept, weights = [], []
    for tensor in graph.initializer:
        value = numpy_helper.to_array(tensor, base_dir)
        if value.ndim == 2 and value.dtype == np.float32:
            weights.append(value)
            graph.input.append(helper.make_tensor_value_info(tensor.name, onnx.TensorProto.FLOAT, value.shape))
        else:
            kept.append(numpy_helper.from_array(value, tensor.name))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, weights
