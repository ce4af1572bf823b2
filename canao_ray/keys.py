"""Every name a trial reports under or a study records under, in one place.

Trials report ``TrialReport`` dicts to Tune; the searcher, the scheduler, the callbacks,
the report, ``canao verify`` and the benchmarks read them by these names.
"""

from __future__ import annotations

from typing import TypedDict

#: The default objectives of a search, in the order the study stores its values, and their
#: senses (``canao_ray.objectives`` names any others).
SCORE = "score"
LATENCY_MS = "latency_ms"
OBJECTIVES = (SCORE, LATENCY_MS)
MODES = ("max", "min")

#: Result key holding ``latency_ms - budget_ms``: feasible when <= 0 (Optuna's convention).
CONSTRAINT_KEY = "latency_over_budget_ms"
#: Result key: where each latency objective after the first was measured, by its metric.
OTHER_LATENCIES = "latencies"
#: Result key a trainable sets to True on its last report; False means "more epochs to come".
FINAL_KEY = "final"
#: Result key: False for a candidate over the budget, reported once and never trained.
FEASIBLE = "feasible"
EPOCH = "epoch"

#: Where and in which precision a trial trained (``cpu`` or ``cuda:0 (<GPU name>)``; ``fp32``, ``bf16``, ``fp16``).
#: The precision the model is deployed in is its Arch's (``Arch.precision``, in ``arch_key``).
TRAIN_DEVICE, TRAIN_PRECISION = "train_device", "train_precision"
#: The metrics of a trial's last report that ``trials.jsonl`` keeps (and every task metric it reports).
LOGGED_METRICS = (
    SCORE, LATENCY_MS, "latency_p90_ms", "params", EPOCH, FEASIBLE, "compile_s", "tune_s", TRAIN_DEVICE, TRAIN_PRECISION,
)  # fmt: skip

#: Study names: the budget constraint, and user attributes of study trials.
CONSTRAINT_NAME = "latency_budget"
RAY_TRIAL_ID = "ray_trial_id"
#: The objectives a scheduler-stopped (PRUNED) trial last reported.
STOPPED_AT = "stopped_at"
#: Marks a study trial repeating an earlier one's params: answered from it, or dropped while it runs.
DUPLICATE_OF = "duplicate_of"

#: ``latency_backend`` of a candidate the latency model was sure is over the budget (not measured).
PREDICTED = "predicted"


class TrialReport(TypedDict, total=False):
    """What ``train_candidate`` reports each epoch (plus the task's metrics by name)."""

    score: float
    epoch: int
    params: int
    feasible: bool
    final: bool
    loss: float
    arch_key: str
    latency_ms: float
    latency_p90_ms: float
    latency_backend: str
    latency_device: str
    latency_node: str
    latency_replica: int
    latency_cached: bool
    latency_predicted_ms: float
    latency_over_budget_ms: float
    compile_s: float
    tune_s: float
    encoder_params: float
    latencies: dict
    train_device: str
    train_precision: str
