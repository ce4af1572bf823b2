"""The named broker actor that every trial asks for latencies.

``ray.util.ActorPool`` is a driver-local object, so trials cannot share one; instead
one named actor, created before ``Tuner.fit()``, holds a profiler actor per device and
the latency cache, and any trainable reaches it by name (``measure_latency``).
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future
import time
from contextlib import contextmanager
from pathlib import Path

import ray

from search_spaces import Arch

from .cache import LatencyCache, cache_key
from .core_gate import CoreGate
from .devices import Device
from .latency import Latency, MeasureProtocol
from .predictor import LatencyPredictor, Prediction
from .profiler import BACKENDS, DeviceProfiler
from .tvm_backend import LOCAL_RUNTIME_ENV, TuningSettings

BROKER_NAME = "canao-profiler-broker"


class ProfilerBroker:
    """Routes each request to its device's profiler and keeps the latency cache.

    Runs as a threaded actor so many trials can wait at once; each profiler actor
    handles one call at a time, which keeps timings on one device from overlapping.
    Profilers take no CPU from Ray's accounting (they must never wait for trials to
    release cores) and ask for the device's custom resources, which places them on
    the node that has the device. A measurement on a local device takes its node's
    ``CoreGate``, so no trial trains on that node while it runs (trials take turns
    through ``training_turn``).

    Profilers run at normal priority (nice 0) while Ray starts every other worker,
    trials included, at nice 15: whatever work slips past the gate yields to a timing.

    Identical requests that arrive while one is being measured wait for that measurement
    instead of queueing their own (coalescing): at the start of a search many trials draw
    the same architecture, and each duplicate would otherwise cost a full compile.
    """

    def __init__(
        self,
        devices: list[Device],
        cache_dir: str,
        tuning: TuningSettings = TuningSettings(),
        protocol: MeasureProtocol = MeasureProtocol(),
        use_cache: bool = True,
    ):
        self._devices = {device.name: device for device in devices}
        self._profilers = {
            device.name: ray.remote(DeviceProfiler)
            .options(
                num_cpus=0,
                num_gpus=device.num_gpus,
                resources=device.resources,
                runtime_env={
                    "env_vars": {
                        "TVM_NUM_THREADS": str(device.num_threads),
                        "RAY_worker_niceness": "0",
                        **LOCAL_RUNTIME_ENV,
                    }
                },
                # Restarted as often as it dies: a candidate that crashes the compiler
                # fails its own request (tried twice) and must not leave the device
                # without a profiler for the rest of the search.
                max_restarts=-1,
                max_task_retries=1,
                scheduling_strategy="DEFAULT",
            )
            .remote(device, cache_dir, tuning, protocol)
            for device in devices
        }
        self._cache = LatencyCache(Path(cache_dir) / "latency.sqlite") if use_cache else None
        self._gate = CoreGate()
        self._predictors: dict[tuple[str, str, int, int], LatencyPredictor] = {}
        self._predictors_lock = threading.Lock()  # the broker serves many requests at once
        self._in_flight: dict[str, Future] = {}
        self._in_flight_lock = threading.Lock()
        self._measurements = 0

    def measure(self, arch: Arch | dict, device: str, backend: str, batch: int, seq_len: int) -> Latency:
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        latency = self._measured(arch.key, device, backend, batch, seq_len, lambda p: p.measure.remote(arch, backend, batch, seq_len))
        with self._predictors_lock:
            key = (device, backend, batch, seq_len)
            self._predictors.setdefault(key, LatencyPredictor(batch, seq_len)).add(arch, latency.median_ms)
        return latency

    def predict(self, arch: Arch | dict, device: str, backend: str, batch: int, seq_len: int) -> Prediction | None:
        """The latency this broker's measurements so far predict for ``arch`` (None until it
        has seen enough distinct architectures on that device, backend and shape)."""
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        with self._predictors_lock:
            predictor = self._predictors.get((device, backend, batch, seq_len))
            return predictor.predict(arch) if predictor is not None else None

    def measure_onnx(self, onnx: bytes, device: str, backend: str, batch: int, seq_len: int) -> Latency:
        """Latency of a user's ONNX model, cached under ``onnx-<sha256 of its bytes>``."""
        name = f"onnx-{hashlib.sha256(onnx).hexdigest()[:16]}"
        return self._measured(name, device, backend, batch, seq_len, lambda p: p.measure_onnx.remote(onnx, name, backend, batch, seq_len))

    def _measured(self, name: str, device: str, backend: str, batch: int, seq_len: int, call) -> Latency:
        """The cached latency of ``name``, the one an identical request in flight is getting,
        or else ``call(profiler)``'s, taken under the node's gate."""
        if device not in self._profilers:
            raise ValueError(f"no profiler for device {device!r}; this broker has: {sorted(self._profilers)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")
        key = cache_key(name, device, backend, batch, seq_len)
        with self._in_flight_lock:
            hit = self._cache.get(key) if self._cache is not None else None
            if hit is not None:
                return _served(hit)
            pending = self._in_flight.get(key)
            if pending is None:
                pending = self._in_flight[key] = Future()
                self._measurements += 1
                owner = True
            else:
                owner = False
        if not owner:
            return _served(pending.result())
        try:
            latency = self._measure_now(device, call)
            if self._cache is not None:
                self._cache.put(key, latency)
            pending.set_result(latency)
            return latency
        except BaseException as error:
            pending.set_exception(error)
            raise
        finally:
            with self._in_flight_lock:
                del self._in_flight[key]

    def _measure_now(self, device: str, call) -> Latency:
        profiler = self._profilers[device]
        if self._devices[device].rpc is not None:
            return ray.get(call(profiler))
        with self._gate.measuring(ray.get(profiler.node_id.remote())):
            return ray.get(call(profiler))

    def measurements(self) -> int:
        """Measurements this broker asked its profilers for (cache hits and coalesced requests excluded)."""
        return self._measurements

    def begin_training(self, node: str) -> None:
        """Wait until no measurement runs or waits on ``node``, then hold a training turn."""
        self._gate.begin_training(node)

    def end_training(self, node: str) -> None:
        self._gate.end_training(node)

    def devices(self) -> list[str]:
        return sorted(self._devices)

    def profiler(self, device: str):
        """The profiler actor of ``device`` (for fault-injection tests and diagnostics)."""
        return self._profilers[device]

    def profiler_pids(self) -> dict[str, int]:
        return {name: ray.get(actor.pid.remote()) for name, actor in self._profilers.items()}

    def profiler_nodes(self) -> dict[str, str]:
        """The Ray node each device's profiler was placed on."""
        return {name: ray.get(actor.node_id.remote()) for name, actor in self._profilers.items()}


def start_broker(
    devices: list[Device],
    cache_dir: str,
    tuning: TuningSettings = TuningSettings(),
    protocol: MeasureProtocol = MeasureProtocol(),
    use_cache: bool = True,
    name: str = BROKER_NAME,
):
    """Create the named broker; the caller must keep the returned handle alive.

    A named actor nobody holds a handle to is garbage-collected, after which trials
    fail with "Failed to look up actor".
    """
    return (
        ray.remote(ProfilerBroker)
        .options(name=name, num_cpus=0, max_concurrency=64, scheduling_strategy="DEFAULT")
        .remote(devices, str(cache_dir), tuning, protocol, use_cache)
    )


def _served(latency: Latency) -> Latency:
    """A latency handed out without measuring again: it cost this request no compilation,
    so it reports 0 and run-level compile totals stay right."""
    return Latency.from_dict({**latency.to_dict(), "cached": True, "compile_s": 0.0, "tune_s": 0.0, "tuned_tasks": 0})


@contextmanager
def running_broker(
    devices: list[Device],
    cache_dir: str,
    tuning: TuningSettings = TuningSettings(),
    protocol: MeasureProtocol = MeasureProtocol(),
    use_cache: bool = True,
    name: str = BROKER_NAME,
):
    """``start_broker`` for the length of a ``with`` block.

    On leaving, the broker is killed (its profilers share its fate) and the call returns
    once Ray has released the name. A later block in the same Ray session, such as
    ``canao finalize`` after a search, then starts its own broker instead of finding
    the old one still dying.
    """
    broker = start_broker(devices, cache_dir, tuning, protocol, use_cache, name)
    try:
        yield broker
    finally:
        ray.kill(broker)
        _wait_until_released(name)


def _wait_until_released(name: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name)
        except ValueError:
            return
        time.sleep(0.05)


def get_broker(name: str = BROKER_NAME):
    """The running broker; raises with what to do if none was started."""
    try:
        return ray.get_actor(name)
    except ValueError:
        raise RuntimeError(
            f"no profiler broker named {name!r} is running: call "
            "device_profilers.start_broker(...) before Tuner.fit()"
        ) from None


def measure_latency(
    arch: Arch | dict,
    device: str = "local-cpu",
    backend: str = "tvm",
    batch: int = 1,
    seq_len: int = 128,
    broker_name: str = BROKER_NAME,
) -> Latency:
    """Latency of ``arch`` from the broker; callable from any Ray task, actor or trainable."""
    return ray.get(get_broker(broker_name).measure.remote(arch, device, backend, batch, seq_len))


def predict_latency(
    arch: Arch | dict,
    device: str = "local-cpu",
    backend: str = "tvm",
    batch: int = 1,
    seq_len: int = 128,
    broker_name: str = BROKER_NAME,
) -> Prediction | None:
    """What the broker's online latency model predicts for ``arch``, with its spread."""
    return ray.get(get_broker(broker_name).predict.remote(arch, device, backend, batch, seq_len))


def measure_model_latency(
    model,
    device: str = "local-cpu",
    backend: str = "tvm",
    batch: int = 1,
    seq_len: int = 128,
    broker_name: str = BROKER_NAME,
) -> Latency:
    """Latency of your own BERT-family model: an ONNX file path, ONNX bytes, or a Hugging
    Face-style classifier (called with ``input_ids=``, its output has ``.logits``), which is
    exported here with the dynamo exporter at [batch, seq_len].
    Callable from any Ray task, actor or trainable, like ``measure_latency``.
    """
    import torch

    if isinstance(model, torch.nn.Module):
        from .onnx_export import export_onnx
        from .scratch import scratch_dir

        with scratch_dir() as tmp:
            model = export_onnx(model, Path(tmp) / "model.onnx", batch, seq_len).read_bytes()
    elif not isinstance(model, bytes):
        model = Path(model).read_bytes()
    return ray.get(get_broker(broker_name).measure_onnx.remote(model, device, backend, batch, seq_len))


@contextmanager
def training_turn(broker_name: str = BROKER_NAME):
    """Train inside this block only while no latency is being measured on this node.

    Take it around short stretches of work (a few dozen steps), not whole runs: a
    measurement waits for every open turn on its node to end.
    """
    broker = get_broker(broker_name)
    node = ray.get_runtime_context().get_node_id()
    ray.get(broker.begin_training.remote(node))
    try:
        yield
    finally:
        ray.get(broker.end_training.remote(node))
