"""The broker actor every trial asks for latencies: routing, cache, coalescing, the core gate."""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from search_spaces import Arch

from ..backends import check_backend
from ..backends.tuning import TuningSettings
from ..devices import LOCAL_RUNTIME_ENV, Device
from ..latency import Latency, MeasureTarget
from ..measurement import CoreGate, MeasureProtocol
from .cache import LatencyCache
from .predictor import LatencyPredictor, Prediction
from .profiler import DeviceProfiler
from .replicas import ReplicaPool

#: What every replica of a pool times when the broker starts, to compare the replicas.
CALIBRATION_ARCH = Arch.uniform(2, 128, 2, 512)
CALIBRATION_SEQ_LEN = 32


def _measure_calibration(profiler):
    return profiler.measure.remote(CALIBRATION_ARCH, "tvm", 1, CALIBRATION_SEQ_LEN)


def _profiler_actor(device: Device, cache_dir: str, tuning: TuningSettings, protocol: MeasureProtocol):
    """The profiler actor of ``device``: no CPU from Ray's accounting (it must never wait
    for trials to release cores), the device's custom resources (which place it on the
    node that has the device), nice 0 while Ray starts trials at nice 15, and restarted as
    often as it dies (a candidate that crashes the compiler fails its own request only).
    Its own work (export, compilation) uses the device's thread count: the replicas of a
    one-thread board share the host's cores instead of each spreading over all of them."""
    return (
        ray.remote(DeviceProfiler)
        .options(
            num_cpus=0,
            num_gpus=device.num_gpus,
            resources=device.resources,
            runtime_env={
                "env_vars": {
                    "TVM_NUM_THREADS": str(device.num_threads),
                    "OMP_NUM_THREADS": str(device.num_threads),
                    "RAY_worker_niceness": "0",
                    **LOCAL_RUNTIME_ENV,
                }
            },
            max_restarts=-1,
            max_task_retries=1,
            scheduling_strategy="DEFAULT",
        )
        .remote(device, cache_dir, tuning, protocol)
    )


@dataclass(frozen=True)
class Trainer:
    """The Ray actor holding a training turn, known by its id (its handle is for probing)."""

    actor_id: str
    handle: Any = field(compare=False, repr=False)


class ProfilerBroker:
    """Routes each request to a free profiler of its device and keeps the latency cache.

    ``ray.util.ActorPool`` is local to one process, so trials share profilers through this
    one named actor instead. It runs threaded so many trials can wait at once, while each
    profiler takes one call at a time. A device with several replicas has a pool of
    profilers, one per replica: a request goes to an idle one, the least used first,
    and waits here while all are busy. A measurement on a local device holds its node's
    ``CoreGate``, so no trial trains there meanwhile (trials take turns through
    ``training_turn``). Identical requests that arrive while one is measured wait for that
    measurement (coalescing) instead of compiling the same model again.
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
            device.name: [_profiler_actor(device, cache_dir, tuning, protocol) for _ in range(device.replicas)]
            for device in devices
        }
        self._replicas = ReplicaPool({device.name: device.replicas for device in devices})
        self._cache = LatencyCache(Path(cache_dir) / "latency.sqlite") if use_cache else None
        self._gate = CoreGate(dead_holders=self._dead_trainers)
        self._probes: dict[Trainer, ray.ObjectRef] = {}  # one pending liveness probe per trainer
        self._predictors: dict[MeasureTarget, LatencyPredictor] = {}
        self._predictors_lock = threading.Lock()  # the broker serves many requests at once
        self._in_flight: dict[str, Future] = {}
        self._in_flight_lock = threading.Lock()
        self._measurements = 0
        self._calibrations: dict[str, Future] = {}
        for device in devices:  # a pool's replicas are compared as soon as it starts
            if device.replicas > 1:
                self._calibrations[device.name] = Future()
                threading.Thread(target=self._calibrate, args=(device.name,), daemon=True).start()

    def measure(self, arch: Arch | dict, target: MeasureTarget) -> Latency:
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        b, s = target.batch, target.seq_len
        latency = self._measured(arch.key, target, lambda p: p.measure.remote(arch, target.backend, b, s))
        with self._predictors_lock:
            self._predictors.setdefault(target, LatencyPredictor(b, s)).add(arch, latency.median_ms)
        return latency

    def predict(self, arch: Arch | dict, target: MeasureTarget) -> Prediction | None:
        """The latency this broker's measurements so far predict for ``arch`` (None until it
        has seen enough distinct architectures at that target)."""
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        with self._predictors_lock:
            predictor = self._predictors.get(target)
            return predictor.predict(arch) if predictor is not None else None

    def measure_onnx(self, onnx: bytes, target: MeasureTarget) -> Latency:
        """Latency of a user's ONNX model, cached under ``onnx-<sha256 of its bytes>``."""
        name = f"onnx-{hashlib.sha256(onnx).hexdigest()[:16]}"
        b, s = target.batch, target.seq_len
        return self._measured(name, target, lambda p: p.measure_onnx.remote(onnx, name, target.backend, b, s))

    def _measured(self, name: str, target: MeasureTarget, call: Callable) -> Latency:
        """The cached latency of ``name``, the one an identical request in flight is getting,
        or else ``call(profiler)``'s, taken under the node's gate."""
        if target.device not in self._profilers:
            raise ValueError(f"no profiler for device {target.device!r}; this broker has: {sorted(self._profilers)}")
        check_backend(target.backend, remote=self._devices[target.device].rpc is not None)
        key = target.cache_key(name)
        with self._in_flight_lock:
            hit = self._cache.get(key) if self._cache is not None else None
            if hit is not None:
                return hit.served_again()
            pending = self._in_flight.get(key)
            owner = pending is None
            if owner:
                pending = self._in_flight[key] = Future()
                self._measurements += 1
        if not owner:
            return pending.result().served_again()
        try:
            latency = self._measure_now(target.device, call)
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

    def calibration(self, device: str) -> list[dict]:
        """How each replica of ``device`` timed the calibration architecture, and its ratio
        to the pool's median (waits for the measurements; one replica: ratio 1, unmeasured)."""
        if device not in self._calibrations:
            return [{"replica": 0, "node": "", "median_ms": None, "ratio": 1.0}]
        return self._calibrations[device].result()

    def _calibrate(self, device: str) -> None:
        """Time ``CALIBRATION_ARCH`` on every replica of ``device``, all at once (each
        replica one measurement at a time, as always)."""

        def on(replica: int) -> dict:
            latency = self._measure_now(device, _measure_calibration, replica)
            return {"replica": replica, "node": latency.node, "median_ms": latency.median_ms}

        try:
            with ThreadPoolExecutor(len(self._profilers[device])) as pool:
                rows = list(pool.map(on, range(len(self._profilers[device]))))
            median = statistics.median(row["median_ms"] for row in rows)
            self._calibrations[device].set_result([{**row, "ratio": row["median_ms"] / median} for row in rows])
        except BaseException as error:  # answered to whoever asks for the calibration
            self._calibrations[device].set_exception(error)

    def _measure_now(self, device: str, call: Callable, replica: int | None = None) -> Latency:
        with self._replicas.take(device, replica) as replica:
            profiler = self._profilers[device][replica]
            if self._devices[device].rpc is not None:
                latency = ray.get(call(profiler))
            else:
                with self._gate.measuring(ray.get(profiler.node_id.remote())):
                    latency = ray.get(call(profiler))
        return dataclasses.replace(latency, replica=replica)

    def measurements(self) -> int:
        """Measurements this broker asked its profilers for (cache hits and coalesced requests excluded)."""
        return self._measurements

    def begin_training(self, node: str, trainer: Trainer | None = None) -> int:
        """Wait until no measurement runs or waits on ``node``, then hold a training turn;
        returns its token. A ``trainer`` that dies inside its turn has it forgotten at once."""
        return self._gate.begin_training(node, trainer)

    def end_training(self, node: str, token: int) -> None:
        self._gate.end_training(node, token)

    def _dead_trainers(self, trainers: set[Trainer]) -> set[Trainer]:
        """The ``trainers`` whose actors Ray has seen die; never blocks. Each has one probe
        call, which waits in its actor's queue behind the training and fails once the actor
        is dead; probes of trainers no longer holding a turn are dropped."""
        self._probes = {t: self._probes[t] if t in self._probes else t.handle.__ray_ready__.remote() for t in trainers}
        answered, _ = ray.wait(list(self._probes.values()), num_returns=len(self._probes), timeout=0)
        dead = set()
        for trainer, probe in list(self._probes.items()):
            if probe in answered:
                del self._probes[trainer]  # alive when answered: probe again next time
                try:
                    ray.get(probe)
                except ray.exceptions.ActorDiedError:
                    dead.add(trainer)
        return dead

    def profiler(self, device: str, replica: int = 0):
        """The profiler actor of one of ``device``'s replicas (for fault-injection tests and diagnostics)."""
        return self._profilers[device][replica]

    def profiler_nodes(self) -> dict[str, str]:
        """The Ray node each device's (first) profiler was placed on."""
        return {name: ray.get(actors[0].node_id.remote()) for name, actors in self._profilers.items()}

    def replica_nodes(self, device: str) -> list[str]:
        """The Ray node of each of ``device``'s profilers, by replica."""
        return ray.get([actor.node_id.remote() for actor in self._profilers[device]])
