"""Latency of one architecture on one device, for one or several backends (``canao profile``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ray

from device_profilers import BACKENDS, Device, Latency, MeasureProtocol, TuningSettings, measure_latency, running_broker
from search_spaces import Arch

from .config import ConfigError


def parse_arch(text: str) -> Arch:
    """An Arch from JSON (``{"num_layers": 6, ...}``) or its key (``L6-H384-A12-I1536``)."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = None
    try:
        if isinstance(values, dict):
            return Arch.from_dict(values)
        return Arch.from_key(text)
    except ValueError as error:
        raise ConfigError(f"--arch: {error}; give a JSON object with the Arch fields or a key") from None


def profile_arch(
    arch: Arch,
    device: Device,
    backends: list[str],
    *,
    batch: int,
    seq_len: int,
    cache_dir: Path,
    tuning: TuningSettings,
    protocol: MeasureProtocol,
    use_cache: bool,
) -> list[Latency]:
    """Measure ``arch`` with each backend through the same broker a search uses.

    Going through the broker (rather than a profiler in this process) means the same
    measurement protocol, the same persistent latency cache and tuning database, and the
    same placement on a cluster as the latencies a search optimises.
    """
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ConfigError(f"--backend: unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
    if device.rpc is not None:
        if backends != ["tvm"]:
            raise ConfigError("--backend: a device reached through TVM RPC is measured with 'tvm' only")
        try:
            device.rpc.check_reachable()
        except ConnectionError as error:
            raise ConfigError(f"--rpc-tracker: {error}") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        with running_broker([device], str(cache_dir), tuning, protocol, use_cache):
            return [measure_latency(arch, device.name, backend, batch, seq_len) for backend in backends]
    finally:
        if started_here:
            ray.shutdown()
