"""The function trainable every trial runs: measure latency first, then train."""

from __future__ import annotations

import torch
from ray import tune

from device_profilers import measure_latency, training_turn
from search_spaces import Arch

from .config import SearchConfig
from .searcher import CONSTRAINT_KEY, FINAL_KEY
from .training import Trainer, build_model, count_parameters, load_task


def train_candidate(config: dict, settings: SearchConfig) -> None:
    """Reports ``accuracy``, ``latency_ms``, ``params``, ``epoch`` every epoch.

    Latency comes first: a candidate over the budget reports once (accuracy 0, the
    constraint violated) and stops before any training is spent on it. Training takes
    turns with the latency measurements of other trials on this node (``training_turn``).
    """
    arch = Arch.from_dict(config["arch"])
    lat = settings.latency
    latency = measure_latency(arch, lat.device, lat.backend, lat.batch, settings.task.seq_len)
    common = {
        "latency_ms": latency.median_ms,
        "latency_p90_ms": latency.p90_ms,
        "latency_backend": latency.backend,
        "latency_device": latency.device,
        "latency_cached": latency.cached,
        "compile_s": latency.compile_s,
        "tune_s": latency.tune_s,
        CONSTRAINT_KEY: latency.median_ms - lat.budget_ms,
        "arch_key": arch.key,
    }
    if latency.median_ms > lat.budget_ms:
        report = {"accuracy": 0.0, "epoch": 0, "params": arch.encoder_params(), "feasible": False}
        tune.report({**report, FINAL_KEY: True, **common})
        return
    torch.set_num_threads(settings.search.trial_cpus)
    data = load_task(settings.task)
    model = build_model(arch, data, settings.training.seed)
    trainer = Trainer(model, data, settings.training)
    params = count_parameters(model)
    for epoch in range(1, settings.training.epochs + 1):
        loss = trainer.epoch(training_turn)
        report = {"accuracy": trainer.accuracy(training_turn), "loss": loss, "epoch": epoch, "params": params, "feasible": True}
        tune.report({**report, FINAL_KEY: epoch == settings.training.epochs, **common})
