"""Hypervolume of a front, and a Tune callback that tracks it as trials finish.

The hypervolume is the area a front dominates up to a reference point; here the point is
(worst score, latency budget), so a front gains area by being more accurate, faster, or
both, and a trial over the budget adds nothing. One number that only grows as the search
improves makes samplers and schedulers comparable (see ``experiments/bench_search.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from optuna._hypervolume import compute_hypervolume
from ray import tune

from .searcher import FINAL_KEY


def hypervolume(points: Sequence[Sequence[float]], modes: Sequence[str], reference: Sequence[float]) -> float:
    """Area (volume) dominated by ``points`` and bounded by ``reference``; ``modes`` says per
    objective whether larger ("max") or smaller ("min") is better."""
    signs = np.array([-1.0 if mode == "max" else 1.0 for mode in modes])
    losses = np.asarray(points, dtype=float).reshape(-1, len(modes)) * signs
    ref = np.asarray(reference, dtype=float) * signs
    inside = losses[np.all(losses < ref, axis=1)]
    return float(compute_hypervolume(inside, ref)) if len(inside) else 0.0


class HypervolumeHistory(tune.Callback):
    """Appends ``{"finished", "trial_id", "hypervolume", "time"}`` to a JSON-lines file
    each time a trial ends, so the search's progress can be read (and plotted) while it runs.

    A trial counts toward the front when it reported every metric and did not stop early
    (its last report has no ``final: False``: a partly trained score is not its score).
    Errored trials add a line with the hypervolume unchanged.
    """

    def __init__(self, path: str | os.PathLike, metrics: Sequence[str], modes: Sequence[str], reference: Sequence[float]):
        self.path = Path(path)
        self.metrics, self.modes, self.reference = list(metrics), list(modes), list(reference)
        self.points: list[list[float]] = []
        self.finished = 0

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if result.get(FINAL_KEY) is not False and all(result.get(m) is not None for m in self.metrics):
            self.points.append([float(result[m]) for m in self.metrics])
        self._append(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._append(trial)

    def _append(self, trial) -> None:
        self.finished += 1
        record = {
            "finished": self.finished,
            "trial_id": trial.trial_id,
            "hypervolume": hypervolume(self.points, self.modes, self.reference),
            "time": time.time(),
        }
        with open(self.path, "a") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def read_history(path: str | os.PathLike) -> list[dict]:
    """The records a ``HypervolumeHistory`` wrote (none if the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill mid-write
    return records
