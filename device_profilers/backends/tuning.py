"""How much compiler tuning a newly seen operator shape gets (TVM's MetaSchedule)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt


class TuningSettings(BaseModel):
    """MetaSchedule's budget for operator shapes the device's database does not have yet.

    Softmax, norms, layout kernels and, with ``matmuls: rule``, the matmuls get rule-based
    schedules at lowering (``backends/tvm/default_schedules/``); MetaSchedule tunes the
    kernels no rule takes, those holding at least ``min_flops_share`` of the model's FLOPs
    (the others keep TVM's default schedule). ``matmuls: tune`` hands the matmuls to
    MetaSchedule instead (a CPU the rule's tiles do not suit; here the models ran at
    0.85-1.37x ONNX Runtime's time with 32 trials a task, 0.60-0.94x with the rule:
    ``experiments/results/bench_compiler.md``). A task already in the database is never tuned
    again. The default is small so a search on a cold cache stays quick;
    give the shapes you deploy more with ``canao tune`` and a larger ``trials_per_task``.

    A tuning run's budget is ``trials_per_task`` times its new tasks. With
    ``max_task_share`` above 1, MetaSchedule's gradient task scheduler may give one task
    up to that many times its even share, taking it from tasks whose tuning no longer
    moves the model's latency; ``trials_per_round`` candidates are measured between two
    updates of the cost model (0: a task's whole share in one round).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    matmuls: Literal["rule", "tune"] = Field(
        "rule", description="matmul schedules: 'rule' (register-tiled at lowering, no tuning) or 'tune' (MetaSchedule)"
    )
    trials_per_task: StrictInt = Field(
        8, ge=0, description="MetaSchedule trials for each new hot task; 0 disables tuning"
    )
    min_flops_share: StrictFloat = Field(
        0.01,
        ge=0,
        le=1,
        description="kernels no schedule rule takes are tuned if they hold this share of the model's FLOPs",
    )
    max_task_share: StrictFloat = Field(
        1.0, ge=1, description="most trials one task may get, as a multiple of trials_per_task"
    )
    trials_per_round: StrictInt = Field(
        0, ge=0, description="candidates measured per cost-model round; 0: a task's share in one round"
    )
    population_size: StrictInt = Field(128, ge=2, description="evolutionary search population")
    genetic_num_iters: StrictInt = Field(2, ge=1, description="evolutionary search iterations per round")
    runner_min_repeat_ms: StrictInt = Field(40, gt=0, description="each candidate is timed for at least this long")
