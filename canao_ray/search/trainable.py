"""The function trainable every trial runs: measure latency first, then train."""

from __future__ import annotations

from dataclasses import astuple

import torch
from ray import tune

from device_profilers import Latency, Prediction, measure_latencies, predict_latency, training_turn
from search_spaces import Arch

from ..config import SearchConfig
from ..data import load_task
from ..keys import (
    FEASIBLE,
    FINAL_KEY,
    LATENCY_MS,
    OTHER_LATENCIES,
    PREDICTED,
    SCORE,
    TRAIN_DEVICE,
    TRAIN_PRECISION,
    TrialReport,
)
from ..objectives import Objectives
from ..teacher import build_student
from ..training import Trainer, count_parameters, device_name, training_device


def _untrained(arch: Arch, measured: TrialReport) -> TrialReport:
    """The one report of a candidate over a budget: score 0, a constraint violated."""
    return {SCORE: 0.0, "epoch": 0, "params": arch.encoder_params(), FEASIBLE: False, FINAL_KEY: True,
            **measured, "arch_key": arch.key}  # fmt: skip


def _latency_fields(latency: Latency, prediction: Prediction | None) -> TrialReport:
    """The first latency objective's measurement, under the names a two-objective search reports."""
    return {
        **({"latency_predicted_ms": prediction.median_ms} if prediction is not None else {}),
        LATENCY_MS: latency.median_ms,
        "latency_p90_ms": latency.p90_ms,
        "latency_backend": latency.backend,
        "latency_device": latency.device,
        "latency_node": latency.node,
        "latency_replica": latency.replica,
        "latency_cached": latency.cached,
        "compile_s": latency.compile_s,
        "tune_s": latency.tune_s,
    }


def _other_latencies(objectives: Objectives, latencies: list[Latency]) -> dict:
    """Where each latency objective after the first was measured: ``{metric: {...}}``."""
    return {
        o.metric: {
            "device": lat.device,
            "backend": lat.backend,
            "p90_ms": lat.p90_ms,
            "node": lat.node,
            "replica": lat.replica,
            "cached": lat.cached,
        }  # fmt: skip
        for o, lat in zip(objectives.latencies[1:], latencies[1:])
    }


def objective_values(objectives: Objectives, arch: Arch, latencies: list[Latency]) -> dict[str, float]:
    """Every cost of ``arch`` by metric, from ``latencies`` (one per latency objective, in order),
    and each budget's violation under its constraint key (feasible when <= 0)."""
    first, measured = latencies[0], {lat.target: lat for lat in latencies}
    values = {}
    for o in objectives:
        if o.kind == "params":
            values[o.metric] = float(arch.encoder_params())
        elif o.kind == "file_size":
            values[o.metric] = o.value_from(first)
        elif o.kind != SCORE:
            values[o.metric] = o.value_from(measured[o.target(first.batch, first.seq_len)])
    return {**values, **{o.constraint_key: values[o.metric] - o.budget for o in objectives.budgeted}}


def train_candidate(config: dict, settings: SearchConfig, teacher_dir: str | None = None) -> None:
    """Reports ``score`` (the task's headline metric) and the task's other metrics, every
    objective's value by its metric (``latency_ms`` ...), ``params``, ``epoch`` every epoch
    (``keys.TrialReport``).

    Costs come first: every latency objective's device measures the candidate at once, and
    a candidate over any budget reports once and stops before any training is spent on it.
    With ``latency.predictor`` set, a candidate the broker's latency model is sure is over
    the first latency's budget is not even measured (``latency_backend: predicted``); a
    measured one also reports what the model predicted. Training takes turns with the
    latency measurements of other trials on this node (``training_turn``).
    """
    arch = Arch.from_dict(config.get("arch", config))
    lat, objectives, targets = settings.latency, settings.resolved_objectives(), settings.measure_targets()
    first = objectives.latencies[0]
    prediction = predict_latency(arch, *astuple(targets[0])) if lat.predictor is not None else None
    trusted = prediction is not None and prediction.measurements >= lat.predictor.min_measurements
    if trusted and first.budget is not None and prediction.surely_over(first.budget, lat.predictor.z):
        guessed = {LATENCY_MS: prediction.median_ms, "latency_backend": PREDICTED, "latency_device": first.device,
                   "latency_predicted_ms": prediction.median_ms}  # fmt: skip
        values = {**guessed, "encoder_params": float(arch.encoder_params())}  # the predictor allows no other costs
        tune.report(_untrained(arch, {**values, first.constraint_key: prediction.median_ms - first.budget}))
        return
    latencies = measure_latencies(arch, targets)
    measured = {**_latency_fields(latencies[0], prediction), **objective_values(objectives, arch, latencies)}
    if len(latencies) > 1:
        measured[OTHER_LATENCIES] = _other_latencies(objectives, latencies)
    if any(measured[o.constraint_key] > 0 for o in objectives.budgeted):
        tune.report(_untrained(arch, measured))
        return
    common = {**measured, "arch_key": arch.key}
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
