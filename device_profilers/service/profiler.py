"""One device's profiler: export, compile and time a model with a chosen backend."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from search_spaces import Arch

from ..backends import Backend, CompileStats, make_backend
from ..backends.tuning import TuningSettings
from ..devices import Device
from ..files import remove_dead_scratch, scratch_dir
from ..latency import Latency
from ..measurement import MeasureProtocol, SyncProbe, summarize
from ..onnx_files import model_file_bytes

#: A testing hook in the spirit of Ray's ``RAY_testing_*`` variables: comma-separated
#: architecture keys whose build the profiler fails on purpose, so a test can show what a
#: search does with a candidate that does not compile. No real build fails on demand.
FAIL_BUILD_ENV = "CANAO_TESTING_FAIL_BUILD"


class DeviceProfiler:
    """Measures latencies on one device; run as a Ray actor, one per device.

    Ray hands an actor one call at a time, so two timings on the device never overlap.
    The TVM backend's tuning database lives under ``cache_dir`` and serves every
    architecture this profiler ever sees.
    """

    def __init__(
        self,
        device: Device,
        cache_dir: str,
        tuning: TuningSettings = TuningSettings(),
        protocol: MeasureProtocol = MeasureProtocol(),
    ):
        self.device = device
        self.cache_dir = cache_dir
        self.tuning = tuning
        self.protocol = protocol
        self._backends: dict[str, Backend] = {}
        self._probe = SyncProbe(device, cache_dir, max_wait_s=protocol.quiet_wait_s)
        remove_dead_scratch()

    def _backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = make_backend(name, self.device, self.cache_dir, self.tuning)
        return self._backends[name]

    def measure(self, arch: Arch | dict, backend: str, batch: int, seq_len: int) -> Latency:
        """The latency of ``arch``, built with random weights, under the profiler's protocol."""
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        started_at = time.time()
        runner = self._backend(backend)
        export_start = time.perf_counter()
        with _candidate(arch, batch, seq_len, runner) as (model, onnx_path):
            export_s = time.perf_counter() - export_start
            if arch.key in os.environ.get(FAIL_BUILD_ENV, "").split(","):
                raise RuntimeError(f"build of {arch.key} for {self.device.name} failed (injected by {FAIL_BUILD_ENV})")
            return self._time(arch.key, runner, model, onnx_path, batch, seq_len, export_s, started_at)

    def measure_onnx(self, onnx: bytes, name: str, backend: str, batch: int, seq_len: int) -> Latency:
        """Latency of a user's own ONNX model (bytes, so it can come from any node), recorded
        under ``name``. Its inputs are taken as [batch, seq_len] token tensors."""
        if backend == "torch":
            raise ValueError("an ONNX model is measured with 'tvm', 'ort' or 'ort-opt', not 'torch'")
        started_at = time.time()
        runner = self._backend(backend)
        with scratch_dir() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            onnx_path.write_bytes(onnx)
            return self._time(name, runner, None, onnx_path, batch, seq_len, 0.0, started_at)

    def _time(self, key, runner: Backend, model, onnx_path, batch, seq_len, export_s, started_at) -> Latency:
        waited_before = self._probe.waited_s
        blocks_ms, stats = runner.measure(
            model, onnx_path, batch, seq_len, self.protocol, self._probe.wait_until_normal
        )
        return Latency(
            arch_key=key,
            device=self.device.name,
            backend=runner.name,
            batch=batch,
            seq_len=seq_len,
            compile_s=export_s + stats.compile_s,
            tune_s=stats.tune_s,
            tuned_tasks=stats.tuned_tasks,
            reused_tasks=stats.reused_tasks,
            waited_s=self._probe.waited_s - waited_before,
            started_at=started_at,
            measured_at=time.time(),
            node=self.node_id(),
            fused_ops=stats.fused_ops,
            model_bytes=model_file_bytes(onnx_path) if onnx_path is not None else 0,
            peak_memory_bytes=stats.peak_memory_bytes,
            **summarize(blocks_ms),
        )

    def tune(self, arch: Arch | dict, batch: int, seq_len: int) -> CompileStats:
        """Tune every hot operator shape of ``arch`` the device's database lacks; no timing.

        Resumable: a shape an earlier, interrupted call tuned is in the database and reused.
        """
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        compiler = self._backend("tvm")
        with _candidate(arch, batch, seq_len, compiler) as (_, onnx_path):
            _, _, stats = compiler.compile(onnx_path, batch, seq_len, weights_apart=True)
        return stats

    def pid(self) -> int:
        return os.getpid()

    def node_id(self) -> str:
        """The Ray node this profiler runs on ("" outside Ray: asking would start Ray)."""
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""


@contextmanager
def _candidate(arch: Arch, batch: int, seq_len: int, runner: Backend):
    """What ``runner`` times for ``arch``: the randomly initialised model (None where only
    a graph is needed) and, if it ``needs_onnx``, its ONNX file (deleted after). TVM times
    an fp32 model from the graph ``latency_graph`` writes (no torch, no weights moved);
    the rest export the model with torch."""
    if runner.name == "tvm" and arch.precision == "fp32":
        import onnx

        from ..latency_graph import latency_graph

        with scratch_dir() as tmp:
            path = Path(tmp) / "model.onnx"
            onnx.save(latency_graph(arch, batch, seq_len), str(path))
            yield None, path
        return
    from ..export import build_classifier, export_onnx, quantize_torch  # torch, imported where it is needed

    model = build_classifier(arch, seq_len)
    if not runner.needs_onnx:
        yield (quantize_torch(model) if arch.precision == "int8" else model), None
        return
    with scratch_dir() as tmp:
        yield (
            model,
            export_onnx(model, Path(tmp) / "model.onnx", batch, seq_len, external_data=True, precision=arch.precision),
        )
