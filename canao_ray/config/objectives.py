"""The ``objectives`` list of a config, read into ``canao_ray.objectives.Objectives``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StrictFloat, StrictStr, Tag

from device_profilers import BACKENDS, check_backend

from ..keys import SCORE
from ..objectives import Objective, Objectives, two_objectives
from .latency import LatencySettings
from .sections import Section


class LatencyObjective(Section):
    """Latency on one device (``latency.device`` or a name under ``latency.devices``), minimised."""

    latency: StrictStr = Field(description="the device")
    backend: Literal[BACKENDS] | None = Field(
        None, description="the runtime it is measured with (unset: latency.backend)"
    )
    budget_ms: StrictFloat | None = Field(
        None, gt=0, description="a hard budget: a candidate over it is not trained (unset: none)"
    )


class PeakMemoryObjective(Section):
    """Peak memory of the TVM-compiled model on one device that a tvm latency objective measures."""

    peak_memory: StrictStr = Field(description="the device")


def _entry_kind(value: Any) -> str | None:
    """Which spelling an ``objectives`` entry is: a bare name, or the mapping its key names."""
    if isinstance(value, str):
        return "name"
    if isinstance(value, Mapping):
        return next((key for key in ("latency", "peak_memory") if key in value), None)
    return next((key for key in ("latency", "peak_memory") if hasattr(value, key)), None)


#: One entry of ``objectives``: a bare name, or a mapping naming a device.
ObjectiveEntry = Annotated[
    Annotated[Literal["score", "latency", "params", "peak_memory", "file_size"], Tag("name")]
    | Annotated[LatencyObjective, Tag("latency")]
    | Annotated[PeakMemoryObjective, Tag("peak_memory")],
    Discriminator(
        _entry_kind,
        custom_error_type="objective_entry",
        custom_error_message="give a name (score, latency, params, peak_memory, file_size) or "
        "a mapping with latency: or peak_memory:",
    ),
]


def resolve_objectives(entries: tuple[ObjectiveEntry, ...] | None, latency: LatencySettings) -> Objectives:
    """The objectives ``entries`` spell (None: the score and ``latency``'s device under its
    budget); raises ``ValueError`` with what to change for a list that cannot be measured."""
    if entries is None:
        return two_objectives(latency.device, latency.backend, latency.budget_ms)
    if entries.count(SCORE) != 1 or entries[0] != SCORE:
        raise ValueError("objectives: list score first, and once (every search maximises the task's score)")
    latencies = [_latency(e, latency, primary=not i) for i, e in enumerate(_latency_entries(entries, latency))]
    if not latencies:
        raise ValueError("objectives: add a latency, e.g. {latency: local-cpu, budget_ms: 20}")
    first = latencies[0]
    items = []
    for entry in entries:
        if entry == SCORE:
            items.append(Objective(SCORE))
        elif entry in ("params", "file_size"):
            items.append(Objective(entry, primary=True))
        elif entry == "latency" or isinstance(entry, LatencyObjective):
            items.append(latencies.pop(0))
        else:
            device = first.device if entry == "peak_memory" else entry.peak_memory
            items.append(_peak_memory(device, first, items_so_far=[*items, *latencies]))
    objectives = Objectives(tuple(items))
    places = [(o.kind, o.device, o.backend) for o in objectives]
    twice = next((place for place in places if places.count(place) > 1), None)
    if twice is not None:
        raise ValueError(f"objectives: {' '.join(filter(None, twice))} is listed twice")
    if "file_size" in entries and first.backend == "torch":
        raise ValueError(
            "objectives: file_size is the exported ONNX graph's: measure the first latency with tvm or ort"
        )
    return objectives


def _latency_entries(entries, latency: LatencySettings) -> list[LatencyObjective]:
    """The latency entries, a bare ``latency`` spelled out as ``latency.device``'s."""
    return [
        LatencyObjective(latency=latency.device, budget_ms=latency.budget_ms) if e == "latency" else e
        for e in entries
        if e == "latency" or isinstance(e, LatencyObjective)
    ]


def _latency(entry: LatencyObjective, latency: LatencySettings, primary: bool) -> Objective:
    if entry.latency not in latency.device_names():
        raise ValueError(
            f"objectives: no device {entry.latency!r}: name latency.device ({latency.device!r}) "
            "or add it under latency.devices"
        )
    backend = entry.backend or latency.backend
    rpc = (latency if entry.latency == latency.device else latency.devices[entry.latency]).rpc
    try:
        check_backend(backend, remote=rpc is not None)
    except ValueError as error:
        raise ValueError(f"objectives: latency on {entry.latency}: {error}") from None
    return Objective("latency", entry.latency, backend, entry.budget_ms, primary=primary)


def _peak_memory(device: str, first: Objective, items_so_far: list[Objective]) -> Objective:
    """Peak memory on ``device``, read from a tvm latency measured there."""
    if not any(o.kind == "latency" and o.device == device and o.backend == "tvm" for o in items_so_far):
        raise ValueError(
            f"objectives: peak_memory on {device} is read from TVM's memory plan: add {{latency: {device}, backend: tvm}}"
        )
    return Objective("peak_memory", device, "tvm", primary=device == first.device)
