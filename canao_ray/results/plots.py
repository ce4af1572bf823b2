"""The run's figures: the front among all trials, and the hypervolume as trials finish."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..keys import CONSTRAINT_NAME, DUPLICATE_OF, STOPPED_AT


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


def plot_front(study: optuna.Study, front: list[dict], budget_ms: float, path: Path, score_name: str) -> None:
    """The front, the dominated, stopped-early and over-budget trials, and the budget line."""
    on_front = {row["number"] for row in front}
    groups = {"Pareto front": [], "dominated": [], "stopped early": [], "over budget": []}
    for t in study.get_trials(states=[TrialState.COMPLETE, TrialState.PRUNED]):
        if DUPLICATE_OF in t.user_attrs:
            continue
        if t.state == TrialState.PRUNED:
            if STOPPED_AT in t.user_attrs:
                stopped = t.user_attrs[STOPPED_AT]
                groups["stopped early"].append((stopped["latency_ms"], stopped["score"]))
            continue
        over = t.constraints.get(CONSTRAINT_NAME, 0.0) > 0
        name = "over budget" if over else "Pareto front" if t.number in on_front else "dominated"
        groups[name].append((t.values[1], t.values[0]))
    style = {
        "Pareto front": {"marker": "o", "color": "tab:red"},
        "dominated": {"marker": "o", "color": "tab:gray"},
        "stopped early": {"marker": "o", "facecolors": "none", "edgecolors": "tab:gray"},
        "over budget": {"marker": "x", "color": "black"},
    }
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    for name, points in groups.items():
        if points:
            ax.scatter(*zip(*points), label=name, **style[name])
    ax.axvline(budget_ms, linestyle="--", color="tab:blue", label=f"budget {budget_ms} ms")
    ax.set_xlabel("latency (ms, TVM-compiled)")
    ax.set_ylabel(f"dev {score_name}")
    ax.legend()
    _save(fig, path)


def plot_hypervolume(history: list[dict], path: Path) -> None:
    """The front's hypervolume after each finished trial."""
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    ax.step([r["finished"] for r in history], [r["hypervolume"] for r in history], where="post")
    ax.set_xlabel("finished trials")
    ax.set_ylabel("hypervolume (score x ms)")
    _save(fig, path)
