"""One device's profiler: export, compile and time an Arch with a chosen backend."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from search_spaces import Arch

from .devices import Device
from .latency import Latency, MeasureProtocol, summarize
from .scratch import remove_dead_scratch, scratch_dir
from .sync_probe import SyncProbe
from .tvm_backend import CompileStats, TuningSettings

BACKENDS = ("tvm", "ort", "torch")

#: A testing hook in the spirit of Ray's ``RAY_testing_*`` variables: comma-separated
#: architecture keys whose build the profiler fails on purpose, so a test can show what a
#: search does with a candidate that does not compile. No real build fails on demand.
FAIL_BUILD_ENV = "CANAO_TESTING_FAIL_BUILD"


class DeviceProfiler:
    """Measures latencies on one device; run as a Ray actor, one per device.

    Calls are handled one at a time (Ray's default for actors), so two timings on
    the same device never overlap. The TVM backend's tuning database lives under
    ``cache_dir`` and is shared by every architecture this profiler ever sees.
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
        self._backends = {}
        self._probe = SyncProbe(device, cache_dir, max_wait_s=protocol.quiet_wait_s)
        remove_dead_scratch()

    def _backend(self, name: str):
        if self.device.rpc is not None and name != "tvm":
            raise ValueError(
                f"backend {name!r} runs on the profiler's host; device {self.device.name!r} is "
                "reached through TVM RPC: use backend 'tvm'"
            )
        if name not in self._backends:
            if name == "tvm":
                from .tvm_backend import TvmBackend

                self._backends[name] = TvmBackend(self.device, self.cache_dir, self.tuning)
            elif name == "ort":
                from .ort_backend import OrtBackend

                self._backends[name] = OrtBackend(self.device)
            elif name == "torch":
                from .torch_backend import TorchBackend

                self._backends[name] = TorchBackend(self.device)
            else:
                raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
        return self._backends[name]

    def measure(self, arch: Arch | dict, backend: str, batch: int, seq_len: int) -> Latency:
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        started_at = time.time()
        runner = self._backend(backend)
        export_start = time.perf_counter()
        with _candidate(arch, batch, seq_len, runner.needs_onnx) as (model, onnx_path):
            export_s = time.perf_counter() - export_start
            if arch.key in os.environ.get(FAIL_BUILD_ENV, "").split(","):
                raise RuntimeError(f"build of {arch.key} for {self.device.name} failed (injected by {FAIL_BUILD_ENV})")
            return self._time(arch.key, runner, backend, model, onnx_path, batch, seq_len, export_s, started_at)

    def measure_onnx(self, onnx: bytes, name: str, backend: str, batch: int, seq_len: int) -> Latency:
        """Latency of a user's own ONNX model (bytes, so it can come from any node), recorded
        under ``name``. Its inputs are taken as [batch, seq_len] token tensors."""
        if backend == "torch":
            raise ValueError("an ONNX model is measured with 'tvm' or 'ort', not 'torch'")
        started_at = time.time()
        runner = self._backend(backend)
        with scratch_dir() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            onnx_path.write_bytes(onnx)
            return self._time(name, runner, backend, None, onnx_path, batch, seq_len, 0.0, started_at)

    def _time(self, key, runner, backend, model, onnx_path, batch, seq_len, export_s, started_at) -> Latency:
        waited_before = self._probe.waited_s
        blocks_ms, stats = runner.measure(model, onnx_path, batch, seq_len, self.protocol, self._probe.wait_until_normal)
        return Latency(
            arch_key=key,
            device=self.device.name,
            backend=backend,
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
            **summarize(blocks_ms),
        )

    def tune(self, arch: Arch | dict, batch: int, seq_len: int) -> CompileStats:
        """Tune every hot operator shape of ``arch`` the device's database lacks; no timing.

        The database is keyed by workload, so this is resumable: a shape tuned by an
        earlier, interrupted call is reused, not tuned again.
        """
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        with _candidate(arch, batch, seq_len, needs_onnx=True) as (_, onnx_path):
            _, _, stats = self._backend("tvm").compile(onnx_path, batch, seq_len, weights_apart=True)
        return stats

    def pid(self) -> int:
        return os.getpid()

    def node_id(self) -> str:
        """The Ray node this profiler runs on ("" outside Ray: asking would start Ray)."""
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""


@contextmanager
def _candidate(arch: Arch, batch: int, seq_len: int, needs_onnx: bool):
    """The randomly initialised model of ``arch`` and, if asked, its ONNX file (deleted after)."""
    from .onnx_export import build_classifier, export_onnx

    model = build_classifier(arch, seq_len)
    with scratch_dir() as tmp:
        yield model, export_onnx(model, Path(tmp) / "model.onnx", batch, seq_len, external_data=True) if needs_onnx else None
