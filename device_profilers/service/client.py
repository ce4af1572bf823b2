"""Reaching the broker: starting it around a search, and asking it from any Ray task or trainable."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import ray

from search_spaces import Arch

from ..backends import check_backend
from ..backends.tuning import TuningSettings
from ..devices import Device
from ..files import scratch_dir
from ..latency import Latency, MeasureTarget
from ..measurement import MeasureProtocol
from .broker import ProfilerBroker, Trainer
from .predictor import Prediction

BROKER_NAME = "canao-profiler-broker"


def start_broker(
    devices: list[Device],
    cache_dir: str,
    tuning: TuningSettings = TuningSettings(),
    protocol: MeasureProtocol = MeasureProtocol(),
    use_cache: bool = True,
    name: str = BROKER_NAME,
):
    """Create the named broker; the caller must keep the returned handle alive (Ray
    collects a named actor nobody holds, and trials then fail to look it up)."""
    return (
        ray.remote(ProfilerBroker)
        .options(name=name, num_cpus=0, max_concurrency=64, scheduling_strategy="DEFAULT")
        .remote(devices, str(Path(cache_dir).expanduser()), tuning, protocol, use_cache)
    )


@contextmanager
def running_broker(*args, name: str = BROKER_NAME, **kwargs):
    """``start_broker(...)`` (the same arguments) for the length of a ``with`` block.

    On leaving, the broker is killed (its profilers with it) and the block returns once Ray
    has released the name, so a later block in the same Ray session (``canao finalize``
    after a search) starts its own broker instead of finding the old one dying.
    """
    broker = start_broker(*args, name=name, **kwargs)
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
            f"no profiler broker named {name!r} is running: call device_profilers.start_broker(...) before Tuner.fit()"
        ) from None


def measure_latency(arch: Arch | dict, *where, broker_name: str = BROKER_NAME, **named) -> Latency:
    """Latency of ``arch`` from the broker, callable from any Ray task, actor or trainable.

    ``where`` / ``named``: the fields of ``MeasureTarget`` (``device="local-cpu"``,
    ``backend="tvm"``, ``batch=1``, ``seq_len=128``), by position or by name.
    """
    return ray.get(get_broker(broker_name).measure.remote(arch, MeasureTarget(*where, **named)))


def measure_latencies(
    arch: Arch | dict, targets: Sequence[MeasureTarget], broker_name: str = BROKER_NAME
) -> list[Latency]:
    """Latencies of ``arch`` at each of ``targets``, asked for at once: different devices
    measure in parallel, while each device still takes its requests one at a time."""
    broker = get_broker(broker_name)
    return ray.get([broker.measure.remote(arch, target) for target in targets])


def predict_latency(arch: Arch | dict, *where, broker_name: str = BROKER_NAME, **named) -> Prediction | None:
    """What the broker's online latency model predicts for ``arch`` at the ``MeasureTarget``
    given as in ``measure_latency``, with its spread (None until it has seen enough)."""
    return ray.get(get_broker(broker_name).predict.remote(arch, MeasureTarget(*where, **named)))


def measure_model_latency(model, *where, broker_name: str = BROKER_NAME, **named) -> Latency:
    """Latency of your own BERT-family model: an ONNX file path, ONNX bytes, or a Hugging
    Face-style classifier (called with ``input_ids=``, its output has ``.logits``), exported
    here with the dynamo exporter at [batch, seq_len]. Called like ``measure_latency``.
    """
    import torch

    from ..export import export_onnx

    target = MeasureTarget(*where, **named)
    if isinstance(model, torch.nn.Module):
        with scratch_dir() as tmp:
            model = export_onnx(model, Path(tmp) / "model.onnx", target.batch, target.seq_len).read_bytes()
    elif not isinstance(model, bytes):
        model = Path(model).read_bytes()
    return ray.get(get_broker(broker_name).measure_onnx.remote(model, target))


@contextmanager
def training_turn(broker_name: str = BROKER_NAME):
    """Train inside this block only while no latency is being measured on this node.

    Take it around short stretches of work (a few dozen steps), not whole runs: a
    measurement waits for every open turn on its node to end.
    """
    broker = get_broker(broker_name)
    node = ray.get_runtime_context().get_node_id()
    token = ray.get(broker.begin_training.remote(node, _this_trainer()))
    try:
        yield
    finally:
        ray.get(broker.end_training.remote(node, token))


@functools.cache
def _this_trainer() -> Trainer | None:
    """This process's actor, whose death frees its turns; None outside an actor. Cached:
    a process hosts one actor, and turns are taken every few dozen steps."""
    context = ray.get_runtime_context()
    actor_id = context.get_actor_id()
    return Trainer(actor_id, context.current_actor) if actor_id else None


def profile_arch(
    arch: Arch,
    device: Device,
    backends: list[str],
    *,
    batch: int,
    seq_len: int,
    cache_dir: str | Path,
    tuning: TuningSettings = TuningSettings(),
    protocol: MeasureProtocol = MeasureProtocol(),
    use_cache: bool = True,
) -> list[Latency]:
    """Measure ``arch`` with each backend through a broker of its own, as a search would (same
    protocol, cache, tuning database and placement); starts Ray here if none is running.

    Raises ``ValueError`` for a backend the device cannot run and ``ConnectionError`` for an
    unreachable RPC tracker, before anything is measured.
    """
    for backend in backends:
        check_backend(backend, remote=device.rpc is not None)
    if device.rpc is not None:
        device.rpc.check_reachable()
    with _local_ray(), running_broker([device], str(cache_dir), tuning, protocol, use_cache):
        return [measure_latency(arch, device.name, backend, batch, seq_len) for backend in backends]


def calibrate_replicas(
    device: Device,
    cache_dir: str | Path,
    tuning: TuningSettings = TuningSettings(),
    protocol: MeasureProtocol = MeasureProtocol(),
) -> list[dict]:
    """How each replica of ``device`` times the broker's calibration architecture, and its
    ratio to the pool's median (``ProfilerBroker.calibration``); starts Ray here if needed."""
    with _local_ray(), running_broker([device], str(cache_dir), tuning, protocol) as broker:
        return ray.get(broker.calibration.remote(device.name))


@contextmanager
def _local_ray():
    """Ray for the block: the running instance, or one started here and shut down after."""
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        if started_here:
            ray.shutdown()
