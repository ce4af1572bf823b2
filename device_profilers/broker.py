"""The named broker actor that every trial asks for latencies.

``ray.util.ActorPool`` is a driver-local object, so trials cannot share one; instead
one named actor, created before ``Tuner.fit()``, holds a profiler actor per device and
the latency cache, and any trainable reaches it by name (``measure_latency``).
"""

from __future__ import annotations

from pathlib import Path

import ray

from search_spaces import Arch

from .cache import LatencyCache, cache_key
from .devices import Device
from .latency import Latency, MeasureProtocol
from .profiler import BACKENDS, DeviceProfiler
from .tvm_backend import TuningSettings

BROKER_NAME = "canao-profiler-broker"


class ProfilerBroker:
    """Routes each request to its device's profiler and keeps the latency cache.

    Runs as a threaded actor so many trials can wait at once; each profiler actor
    handles one call at a time, which keeps timings on one device from overlapping.
    Profilers take no CPU from Ray's accounting (they must never wait for trials to
    release cores) and ask for the device's custom resources, which places them on
    the node that has the device.
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
                resources=device.resources,
                runtime_env={"env_vars": {"TVM_NUM_THREADS": str(device.num_threads)}},
                max_restarts=2,
                max_task_retries=1,
                scheduling_strategy="DEFAULT",
            )
            .remote(device, cache_dir, tuning, protocol)
            for device in devices
        }
        self._cache = LatencyCache(Path(cache_dir) / "latency.sqlite") if use_cache else None

    def measure(self, arch: Arch | dict, device: str, backend: str, batch: int, seq_len: int) -> Latency:
        arch = arch if isinstance(arch, Arch) else Arch.from_dict(arch)
        if device not in self._profilers:
            raise ValueError(f"no profiler for device {device!r}; this broker has: {sorted(self._profilers)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")
        key = cache_key(arch.key, device, backend, batch, seq_len)
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                # A hit costs no compilation: report 0 so run-level compile totals stay right.
                return Latency.from_dict(
                    {**hit.to_dict(), "cached": True, "compile_s": 0.0, "tune_s": 0.0, "tuned_tasks": 0}
                )
        latency = ray.get(self._profilers[device].measure.remote(arch, backend, batch, seq_len))
        if self._cache is not None:
            self._cache.put(key, latency)
        return latency

    def devices(self) -> list[str]:
        return sorted(self._devices)

    def profiler(self, device: str):
        """The profiler actor of ``device`` (for fault-injection tests and diagnostics)."""
        return self._profilers[device]

    def profiler_pids(self) -> dict[str, int]:
        return {name: ray.get(actor.pid.remote()) for name, actor in self._profilers.items()}


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
