"""The function trainable every trial runs: measure latency first, then train."""

from __future__ import annotations

import torch
from ray import tune

from device_profilers import Latency, Prediction, measure_latency, predict_latency, training_turn
from search_spaces import Arch

from ..config import SearchConfig
from ..data import load_task
from ..keys import CONSTRAINT_KEY, FEASIBLE, FINAL_KEY, PREDICTED, SCORE, TRAIN_DEVICE, TRAIN_PRECISION, TrialReport
from ..teacher import build_student
from ..training import Trainer, count_parameters, device_name, training_device


def _untrained(arch: Arch, latency_ms: float, budget_ms: float, latency: TrialReport) -> TrialReport:
    """The one report of a candidate over the budget: score 0, the constraint violated."""
    return {
        SCORE: 0.0, "epoch": 0, "params": arch.encoder_params(), FEASIBLE: False, FINAL_KEY: True,
        **latency, CONSTRAINT_KEY: latency_ms - budget_ms, "arch_key": arch.key,
    }  # fmt: skip


def _latency_fields(latency: Latency, prediction: Prediction | None) -> TrialReport:
    return {
        **({"latency_predicted_ms": prediction.median_ms} if prediction is not None else {}),
        "latency_ms": latency.median_ms,
        "latency_p90_ms": latency.p90_ms,
        "latency_backend": latency.backend,
        "latency_device": latency.device,
        "latency_node": latency.node,
        "latency_replica": latency.replica,
        "latency_cached": latency.cached,
        "compile_s": latency.compile_s,
        "tune_s": latency.tune_s,
    }


def train_candidate(config: dict, settings: SearchConfig, teacher_dir: str | None = None) -> None:
    """Reports ``score`` (the task's headline metric) and the task's other metrics,
    ``latency_ms``, ``params``, ``epoch`` every epoch (``keys.TrialReport``).

    Latency comes first: a candidate over the budget reports once and stops before any
    training is spent on it. With ``latency.predictor`` set, a candidate the broker's
    latency model is sure is over the budget is not even measured (``latency_backend:
    predicted``); a measured one also reports what the model predicted. Training takes
    turns with the latency measurements of other trials on this node (``training_turn``).
    """
    arch = Arch.from_dict(config.get("arch", config))
    lat, target = settings.latency, settings.measure_target()
    where = (target.device, target.backend, target.batch, target.seq_len)
    prediction = predict_latency(arch, *where) if lat.predictor is not None else None
    trusted = prediction is not None and prediction.measurements >= lat.predictor.min_measurements
    if trusted and prediction.surely_over(lat.budget_ms, lat.predictor.z):
        guessed = {"latency_ms": prediction.median_ms, "latency_backend": PREDICTED, "latency_device": target.device,
                   "latency_predicted_ms": prediction.median_ms}  # fmt: skip
        tune.report(_untrained(arch, prediction.median_ms, lat.budget_ms, guessed))
        return
    latency = measure_latency(arch, *where)
    measured = _latency_fields(latency, prediction)
    if latency.median_ms > lat.budget_ms:
        tune.report(_untrained(arch, latency.median_ms, lat.budget_ms, measured))
        return
    common = {**measured, CONSTRAINT_KEY: latency.median_ms - lat.budget_ms, "arch_key": arch.key}
    torch.set_num_threads(settings.search.trial_cpus)
    data = load_task(settings.task, settings.teacher)
    device = training_device(settings.search.trial_gpus)
    model, loss = build_student(arch, data, settings, teacher_dir, device)
    trainer = Trainer(model, data, settings.training, loss, device)
    params = count_parameters(model)
    trained_on = {TRAIN_DEVICE: device_name(device), TRAIN_PRECISION: settings.training.precision or "fp32"}
    for epoch in range(1, settings.training.epochs + 1):
        loss = trainer.epoch(training_turn)
        metrics = trainer.evaluate(training_turn, arch.precision)
        report = {**metrics, "loss": loss, "epoch": epoch, "params": params, FEASIBLE: True, **trained_on}
        tune.report({**report, FINAL_KEY: epoch == settings.training.epochs, **common})
