"""Hypervolume of a front, and a Tune callback that tracks it as trials finish.

The hypervolume is the area a front dominates up to a reference point; here the point is
(worst score, latency budget), so a front gains area by being more accurate, faster, or
both, and a trial over the budget adds nothing. One number that only grows as the search
improves makes samplers and schedulers comparable (see ``experiments/bench_search.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from optuna._hypervolume import compute_hypervolume
from ray import tune

from device_profilers.jsonl import append_record, read_records, trim_partial_line

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
    """Appends ``{"finished", "trial_id", "point", "hypervolume", "time"}`` to a JSON-lines
    file each time a trial ends, so the search's progress can be read (and plotted) while
    it runs. Usable in any Tune run that reports the ``metrics`` it is given.

    A trial's ``point`` joins the front when it reported every metric and did not stop
    early (its last report has no ``final: False``: a partly trained score is not its
    score); otherwise ``point`` is null and the hypervolume is unchanged. A resumed run
    picks up the file where the interrupted one left it.
    """

    def __init__(self, path: str | os.PathLike, metrics: Sequence[str], modes: Sequence[str], reference: Sequence[float]):
        self.path = Path(path)
        self.metrics, self.modes, self.reference = list(metrics), list(modes), list(reference)
        self.records: list[dict] = []

    def setup(self, **info):
        trim_partial_line(self.path)
        self.records = read_records(self.path)

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        counts = result.get(FINAL_KEY) is not False and all(result.get(m) is not None for m in self.metrics)
        self._append(trial, [float(result[m]) for m in self.metrics] if counts else None)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._append(trial, None)

    def _append(self, trial, point: list[float] | None) -> None:
        if any(record["trial_id"] == trial.trial_id for record in self.records):
            return
        points = [r["point"] for r in self.records if r["point"] is not None]
        points += [point] if point is not None else []
        record = {
            "finished": len(self.records) + 1,
            "trial_id": trial.trial_id,
            "point": point,
            "hypervolume": hypervolume(points, self.modes, self.reference),
            "time": time.time(),
        }
        append_record(self.path, record)
        self.records.append(record)
