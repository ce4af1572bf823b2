"""What a finished search leaves behind: ``pareto.json``, ``report.md`` and its figures."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from device_profilers.files import read_records, write_atomic
from search_spaces import ArchSpace

from ..keys import PREDICTED, SCORE
from ..objectives import Objectives
from .callbacks import HYPERVOLUME_FILE
from .front import pareto_front, trial_counts
from .plots import plot_front, plot_hypervolume, plot_parallel


def predictor_summary(trials: list[dict]) -> str | None:
    """How the latency predictor did (None when it was off or never ready): how many
    measurements it saved, and its error on the trials that were measured anyway."""
    skipped = sum(t["latency"].get("backend") == PREDICTED for t in trials)
    pairs = [
        (t["latency"]["predicted_ms"], t["latency"]["median_ms"])
        for t in trials
        if t["latency"].get("predicted_ms") is not None and t["latency"].get("backend") != PREDICTED
    ]
    if not skipped and not pairs:
        return None
    text = f"Latency predictor: {skipped} candidates skipped as surely over the budget, not measured"
    if pairs:
        errors = sorted(abs(p / m - 1) for p, m in pairs)
        text += (
            f"; on {len(pairs)} measured candidates its error was {sum(errors) / len(errors):.1%} on average, "
            f"{errors[len(errors) // 2]:.1%} median, {errors[-1]:.1%} at worst"
        )
    return text + "."


#: In a run directory: how each replica of a pooled device timed the calibration architecture.
REPLICAS_FILE = "replicas.json"


def replicas_summary(run_dir: Path) -> list[str]:
    """The report's lines on each pooled device's replicas (none without a pool): each
    one's calibration time and ratio to the pool's median, flagged beyond the tolerance."""
    path = run_dir / REPLICAS_FILE
    if not path.is_file():
        return []
    return [line for record in json.loads(path.read_text()) for line in _replica_table(record)]


def _replica_table(record: dict) -> list[str]:
    tolerance = record["tolerance"]
    lines = [
        f"Replicas of {record['device']}, each timing the same calibration architecture "
        f"(flagged when more than {tolerance:.0%} from the pool's median):",
        "",
        "| replica | node | ms | ratio to median | |",
        "|---|---|---|---|---|",
    ]
    for row in record["replicas"]:
        off = abs(row["ratio"] - 1) > tolerance
        flag = f"**{row['ratio'] - 1:+.0%}: off the pool; its latencies are not comparable**" if off else ""
        lines.append(
            f"| {row['replica']} | {row['node'][:12]} | {row['median_ms']:.3f} | {row['ratio']:.3f} | {flag} |"
        )
    return [*lines, ""]


#: A front whose best score is within this of chance level is flat: nothing was learnt.
FLAT_MARGIN = 0.01


def flat_front_warning(front: list[dict], chance: float | None, score_name: str) -> str | None:
    """What to say when no candidate of ``front`` beats ``chance`` (the score of knowing
    nothing) by ``FLAT_MARGIN``; None when one does."""
    if chance is None or not front:
        return None
    best = max(row["score"] for row in front)
    if best > chance + FLAT_MARGIN:
        return None
    return (
        f"every candidate scores at chance level: the best {score_name}, {best:.4f}, is within {FLAT_MARGIN} of "
        f"what a model that knows nothing gets ({chance:.4f}), so this front says nothing about the architectures; "
        "raise task.num_train (training examples) or training.epochs"
    )


def _budgets(objectives: Objectives) -> str:
    budgets = [f"{o.label.replace(' (ms)', '')} at most {o.budget:g} ms" for o in objectives.budgeted]
    return f"Budgets: {'; '.join(budgets)}." if budgets else "No budgets."


def _reference(objectives: Objectives, score_name: str) -> str:
    """The hypervolume's reference point in words."""
    parts = [
        f"{score_name} 0"
        if o.kind == SCORE
        else f"the {o.budget:g} ms budget"
        if o.budget is not None
        else f"{o.label} 10% beyond the front's worst"  # fmt: skip
        for o in objectives
    ]
    return ", ".join(parts)


def _arch_cells(arch: dict | None) -> list:
    a = arch or {}
    return [a.get("num_layers"), a.get("hidden_size"), a.get("num_heads"), a.get("intermediate_size")]


def _value(objective, value: float) -> str:
    if objective.kind == "params":
        return f"{value / 1e6:.2f} M"
    return f"{value:.4f}" if objective.kind == SCORE else f"{value:.3f}"


def write_report(
    run_dir: Path,
    study: optuna.Study,
    space: ArchSpace,
    objectives: Objectives,
    command: str,
    score_name: str = "accuracy",
    chance: float | None = None,
) -> list[dict]:
    """``pareto.json``, the plots and ``report.md`` of a finished search; returns the front.
    ``chance`` is the task's chance-level score: a front no better gets a warning."""
    front = pareto_front(study, space, objectives.metrics)
    write_atomic(run_dir / "pareto.json", json.dumps(front, indent=2))
    plot_front(study, front, objectives, run_dir / "pareto.png", score_name)
    headers = [score_name if o.kind == SCORE else o.label for o in objectives]
    lines = [
        f"# canao-ray search: {study.study_name}",
        "",
        f"{_budgets(objectives)} {trial_counts(study)}",
        "",
        *((f"**Warning: {warning}.**", "") if (warning := flat_front_warning(front, chance, score_name)) else ()),
        f"| trial | arch | layers | hidden | heads | FFN | {' | '.join(headers)} |",
        "|---" * (6 + len(headers)) + "|",
    ]
    for row in front:
        cells = [row["number"], row["arch_key"], *_arch_cells(row["arch"])]
        cells += [_value(o, row[o.metric]) for o in objectives]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += ["", "![Pareto front, each pair of objectives](pareto.png)", ""]
    if len(objectives) > 2 and front:
        plot_parallel(front, objectives, run_dir / "parallel.png", score_name)
        lines += ["![The front in parallel coordinates](parallel.png)", ""]
    predictor = predictor_summary(read_records(run_dir / "trials.jsonl"))
    if predictor:
        lines += [predictor, ""]
    lines += replicas_summary(run_dir)
    history = read_records(run_dir / HYPERVOLUME_FILE)
    if history:
        plot_hypervolume(history, run_dir / "hypervolume.png")
        lines += [
            f"Hypervolume after {history[-1]['finished']} finished trials: {history[-1]['hypervolume']:.4g} "
            f"(over {', '.join(objectives.metrics)}; reference point: {_reference(objectives, score_name)}).",
            "",
            "![Hypervolume over finished trials](hypervolume.png)",
            "",
        ]
    lines += ["Reproduce:", "", "```", command, "```", ""]
    write_atomic(run_dir / "report.md", "\n".join(lines))
    return front
