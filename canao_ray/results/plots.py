"""The run's figures: the front among all trials (each pair of objectives, and in parallel
coordinates), and the hypervolume as trials finish."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from ..keys import DUPLICATE_OF, SCORE, STOPPED_AT
from ..objectives import Objective, Objectives
from .front import over_budget


def _pyplot():
    """matplotlib's pyplot, drawing to files only (runs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)


def _trial_groups(study: optuna.Study, front: list[dict], metrics: Sequence[str]) -> dict[str, list[tuple]]:
    """Every trial's objective values (in ``metrics`` order), grouped: on the front,
    dominated, stopped early (their last report), over a budget. Repeats are left out."""
    on_front = {row["number"] for row in front}
    groups = {"Pareto front": [], "dominated": [], "stopped early": [], "over budget": []}
    for t in study.get_trials(states=[TrialState.COMPLETE, TrialState.PRUNED]):
        if DUPLICATE_OF in t.user_attrs:
            continue
        if t.state == TrialState.PRUNED:
            stopped = t.user_attrs.get(STOPPED_AT)
            if stopped and all(m in stopped for m in metrics):
                groups["stopped early"].append(tuple(stopped[m] for m in metrics))
            continue
        name = "over budget" if over_budget(t) else "Pareto front" if t.number in on_front else "dominated"
        groups[name].append(tuple(t.values))
    return groups


_STYLE = {
    "Pareto front": {"marker": "o", "color": "tab:red"},
    "dominated": {"marker": "o", "color": "tab:gray"},
    "stopped early": {"marker": "o", "facecolors": "none", "edgecolors": "tab:gray"},
    "over budget": {"marker": "x", "color": "black"},
}


def _label(objective: Objective, score_name: str) -> str:
    """An axis's label: the task's score on the dev split, or the cost with its unit."""
    return f"dev {score_name}" if objective.kind == SCORE else objective.label


def plot_front(study: optuna.Study, front: list[dict], objectives: Objectives, path: Path, score_name: str) -> None:
    """The trials projected on each pair of objectives (one panel per pair; with two
    objectives, the one plot of score against latency), each budget as a line."""
    groups = _trial_groups(study, front, objectives.metrics)
    labels = [_label(o, score_name) for o in objectives]
    pairs = [(x, y) for y in range(len(objectives)) for x in range(y + 1, len(objectives))]
    columns = min(len(pairs), 3)
    rows = -(-len(pairs) // columns)
    fig, axes = _pyplot().subplots(rows, columns, figsize=(6 * columns, 4 * rows), squeeze=False)
    for ax, (x, y) in zip(axes.flat, pairs):
        for name, points in groups.items():
            if points:
                ax.scatter([p[x] for p in points], [p[y] for p in points], label=name, **_STYLE[name])
        for axis, index in (("x", x), ("y", y)):
            budget = objectives.items[index].budget
            if budget is not None:
                line = ax.axvline if axis == "x" else ax.axhline
                line(budget, linestyle="--", color="tab:blue", label=f"budget {budget:g}")
        ax.set_xlabel(labels[x])
        ax.set_ylabel(labels[y])
        ax.legend(fontsize="small")
    for ax in axes.flat[len(pairs) :]:
        ax.set_visible(False)
    _save(fig, path)


def plot_parallel(front: list[dict], objectives: Objectives, path: Path, score_name: str) -> None:
    """The front in parallel coordinates: one vertical axis per objective, scaled to the
    front's range (better up), one line per architecture."""
    fig, ax = _pyplot().subplots(figsize=(max(6, 2.5 * len(objectives)), 4))
    values = np.array([[row[m] for m in objectives.metrics] for row in front], dtype=float).reshape(-1, len(objectives))
    low, high = values.min(axis=0, initial=np.inf), values.max(axis=0, initial=-np.inf)
    span = np.where(high > low, high - low, 1.0)
    scaled = (values - low) / span
    scaled = np.where([o.mode == "max" for o in objectives], scaled, 1 - scaled)
    for row, line in zip(front, scaled):
        ax.plot(range(len(objectives)), line, marker="o", label=row["arch_key"])
    ax.set_xticks(range(len(objectives)))
    names = [_label(o, score_name).replace(", ", ",\n") for o in objectives]
    ax.set_xticklabels([f"{name}\n{lo:.4g} to {hi:.4g}" for name, lo, hi in zip(names, low, high)], fontsize="small")
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["worst on the front", "best"])
    if len(front) <= 12:
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1, 0.5))
    _save(fig, path)


def plot_hypervolume(history: list[dict], path: Path) -> None:
    """The front's hypervolume after each finished trial."""
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    ax.step([r["finished"] for r in history], [r["hypervolume"] for r in history], where="post")
    ax.set_xlabel("finished trials")
    ax.set_ylabel("hypervolume")
    _save(fig, path)
