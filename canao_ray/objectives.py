"""What a search optimises: the score and any number of costs, each a metric trials report.

A search's objectives are an ``Objectives`` value: the score (maximised), then the costs
(minimised): latency on a device with a backend, encoder parameters, peak memory of the
compiled model, model file size. A latency may carry a hard budget, which becomes an
Optuna constraint. The first latency objective reports under ``latency_ms`` and its
budget under ``latency_over_budget_ms``, the names a two-objective search always had;
every other one under the same names with ``@<device>:<backend>`` appended.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from device_profilers import Latency, MeasureTarget

from .keys import CONSTRAINT_KEY, CONSTRAINT_NAME, LATENCY_MS, SCORE

Kind = Literal["score", "latency", "params", "peak_memory", "file_size"]
#: Bytes in the megabyte that memory and file size are reported in.
MB = 1e6


@dataclass(frozen=True)
class Objective:
    """One objective. ``device`` and ``backend`` say where a latency is measured (and for
    peak memory, whose compiled model it is); ``budget`` is a latency's hard limit in ms.
    ``primary``: the first latency, reported under the historical names."""

    kind: Kind
    device: str | None = None
    backend: str | None = None
    budget: float | None = None
    primary: bool = False

    @property
    def _at(self) -> str:
        """The suffix that sets this objective's keys apart from the first latency's."""
        if self.kind == "latency":
            return "" if self.primary else f"@{self.device}:{self.backend}"
        return "" if self.primary or self.device is None else f"@{self.device}"

    @property
    def metric(self) -> str:
        """The result key trials report this objective under."""
        base = {SCORE: SCORE, "latency": LATENCY_MS, "params": "encoder_params"}.get(self.kind, f"{self.kind}_mb")
        return base + self._at

    @property
    def mode(self) -> str:
        return "max" if self.kind == SCORE else "min"

    @property
    def constraint_key(self) -> str | None:
        """The result key holding ``value - budget`` (feasible when <= 0), None without a budget."""
        return None if self.budget is None else CONSTRAINT_KEY + self._at

    @property
    def constraint_name(self) -> str | None:
        """The name the study records this objective's budget under, None without a budget."""
        return None if self.budget is None else CONSTRAINT_NAME + self._at

    @property
    def label(self) -> str:
        """An axis label: what it is, where, in which unit."""
        if self.kind == "latency":
            return f"latency on {self.device}, {self.backend} (ms)"
        if self.kind == "peak_memory":
            return f"peak memory on {self.device} (MB)"
        return {SCORE: "score", "params": "encoder parameters", "file_size": "model file (MB)"}[self.kind]

    def target(self, batch: int, seq_len: int) -> MeasureTarget:
        """Where a latency objective (or the measurement peak memory is read from) is measured."""
        return MeasureTarget(self.device, self.backend, batch, seq_len)

    def value_from(self, latency: Latency) -> float:
        """This cost, read from the measurement of its device (the first latency's, for file size)."""
        if self.kind == "latency":
            return latency.median_ms
        if self.kind == "peak_memory":
            return latency.peak_memory_bytes / MB
        return latency.model_bytes / MB


@dataclass(frozen=True)
class Objectives:
    """The objectives of a search, in the order the study stores its values (score first)."""

    items: tuple[Objective, ...]

    def __iter__(self) -> Iterator[Objective]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.items]

    @property
    def modes(self) -> list[str]:
        return [o.mode for o in self.items]

    @property
    def latencies(self) -> list[Objective]:
        """The latency objectives, the first (primary) one first."""
        return [o for o in self.items if o.kind == "latency"]

    @property
    def budgeted(self) -> list[Objective]:
        return [o for o in self.items if o.budget is not None]

    @property
    def constraints(self) -> dict[str, str]:
        """Result key of each budget's violation -> the study's constraint name for it."""
        return {o.constraint_key: o.constraint_name for o in self.budgeted}

    @property
    def reference(self) -> list[float | None]:
        """The hypervolume's reference point: score 0 (chance level or worse adds nothing),
        each budget, and None for a cost without one (``hypervolume`` then takes the worst
        value among the points it is given, plus a margin)."""
        return [0.0 if o.kind == SCORE else o.budget for o in self.items]


def two_objectives(device: str, backend: str, budget_ms: float) -> Objectives:
    """The default: the score, and the latency on one device under a budget."""
    return Objectives((Objective(SCORE), Objective("latency", device, backend, budget_ms, primary=True)))
