"""What a run leaves behind: trials.jsonl as trials end, then pareto.json, report.md, pareto.png."""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
from ray import tune

from .searcher import CONSTRAINT_KEY

FINAL_KEYS = ("accuracy", "latency_ms", "latency_p90_ms", "params", "epoch", "feasible", "compile_s", "tune_s")


class TrialsLog(tune.Callback):
    """Appends one JSON object per finished trial (flushed and fsynced line by line)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _write(self, trial, status: str) -> None:
        result = trial.last_result or {}
        record = {
            "trial_id": trial.trial_id,
            "arch": trial.config.get("arch"),
            "status": status,
            "metrics": {k: result.get(k) for k in FINAL_KEYS if k in result},
            "latency": {
                "median_ms": result.get("latency_ms"),
                "p90_ms": result.get("latency_p90_ms"),
                "backend": result.get("latency_backend"),
                "device": result.get("latency_device"),
                "cached": result.get("latency_cached"),
            },
            "error": str(trial.error_file) if status == "ERROR" else None,
        }
        with open(self.path, "a") as stream:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def on_trial_complete(self, iteration, trials, trial, **info):
        feasible = (trial.last_result or {}).get("feasible", True)
        self._write(trial, "TERMINATED" if feasible else "INFEASIBLE")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trial, "ERROR")


def pareto_front(study: optuna.Study) -> list[dict]:
    """The feasible Pareto-optimal trials of the study, fastest first."""
    front = [
        {
            "number": t.number,
            "ray_trial_id": t.user_attrs.get("ray_trial_id"),
            "arch": t.params,
            "accuracy": t.values[0],
            "latency_ms": t.values[1],
        }
        for t in study.best_trials
    ]
    return sorted(front, key=lambda row: row["latency_ms"])


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def plot_front(study: optuna.Study, front: list[dict], budget_ms: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    on_front = {row["number"] for row in front}
    groups = {"Pareto front": [], "dominated": [], "over budget": []}
    for t in study.get_trials(states=[optuna.trial.TrialState.COMPLETE]):
        over = t.system_attrs.get(f"constraints:latency_budget", 0.0) > 0
        name = "over budget" if over else "Pareto front" if t.number in on_front else "dominated"
        groups[name].append((t.values[1], t.values[0]))
    style = {"Pareto front": ("o", "tab:red"), "dominated": ("o", "tab:gray"), "over budget": ("x", "black")}
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in groups.items():
        if points:
            marker, color = style[name]
            ax.scatter(*zip(*points), marker=marker, color=color, label=name)
    ax.axvline(budget_ms, linestyle="--", color="tab:blue", label=f"budget {budget_ms} ms")
    ax.set_xlabel("latency (ms, TVM-compiled)")
    ax.set_ylabel("dev accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(run_dir: Path, study: optuna.Study, budget_ms: float, command: str) -> list[dict]:
    front = pareto_front(study)
    write_atomic(run_dir / "pareto.json", json.dumps(front, indent=2))
    plot_front(study, front, budget_ms, run_dir / "pareto.png")
    lines = [
        f"# canao-ray search: {study.study_name}",
        "",
        f"Latency budget: {budget_ms} ms. Trials in the study: {len(study.trials)}.",
        "",
        "| trial | num_layers | num_heads | head_dim | ffn_ratio | accuracy | latency ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in front:
        a = row["arch"]
        lines.append(
            f"| {row['number']} | {a.get('num_layers')} | {a.get('num_heads')} | {a.get('head_dim')} | "
            f"{a.get('ffn_ratio')} | {row['accuracy']:.4f} | {row['latency_ms']:.3f} |"
        )
    lines += ["", "![Pareto front](pareto.png)", "", "Reproduce:", "", "```", command, "```", ""]
    write_atomic(run_dir / "report.md", "\n".join(lines))
    return front
