"""What a run leaves behind: trials.jsonl as trials end, then pareto.json, report.md, pareto.png."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import optuna
from optuna.trial import TrialState
from ray import tune

from device_profilers.jsonl import append_record, read_records, trim_partial_line
from search_spaces import BertSpace

from .searcher import CONSTRAINT_KEY, CONSTRAINT_NAME, DUPLICATE_OF, FINAL_KEY, STOPPED_AT

#: Written by ``HypervolumeHistory`` as trials end, plotted by ``write_report``.
HYPERVOLUME_FILE = "hypervolume.jsonl"
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)(: |$)")
FINAL_KEYS = ("score", "accuracy", "latency_ms", "latency_p90_ms", "params", "epoch", "feasible", "compile_s", "tune_s")


class TrialsLog(tune.Callback):
    """Appends one JSON object per finished trial (flushed and fsynced line by line).

    A resumed search keeps the file: trials already logged by the interrupted driver are
    not logged again, even when Tune reruns one that ended after its last checkpoint.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.logged: set[str] = set()

    def setup(self, **info):
        trim_partial_line(self.path)
        self.logged = {record["trial_id"] for record in read_records(self.path)}

    def _write(self, trial, status: str) -> None:
        if trial.trial_id in self.logged:
            return
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
                "node": result.get("latency_node"),
                "predicted_ms": result.get("latency_predicted_ms"),
                "cached": result.get("latency_cached"),
            },
            **({"error": error_reason(trial.error_file), "error_file": trial.error_file} if status == "ERROR" else {}),
        }
        append_record(self.path, record)
        self.logged.add(trial.trial_id)

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if not result.get("feasible", True):
            status = "INFEASIBLE"
        elif result.get(FINAL_KEY) is False:
            status = "STOPPED"  # by the scheduler, before its last epoch
        else:
            status = "TERMINATED"
        self._write(trial, status)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trial, "ERROR")


def error_reason(error_file: str | None) -> str:
    """The exception that ended a trial, from the text trace Tune saved: the last line
    naming an exception, or else (a dead actor, which Ray describes in prose over
    several lines) the trace's first line after Tune's "Failure # N" header."""
    if not error_file or not Path(error_file).is_file():
        return "unknown (Tune saved no error trace)"
    lines = [line.strip() for line in Path(error_file).read_text(errors="replace").splitlines() if line.strip()]
    named = [line for line in lines if EXCEPTION_LINE.match(line)]
    prose = [line for line in lines if not line.startswith("Failure #")]
    return (named or prose or ["unknown (empty error trace)"])[-1 if named else 0]


class TrialProgress(tune.Callback):
    """One line per trial report: the arch, its latency and what compiling it cost, the epoch.

    Tune's status table says which trials run; these lines say why a trial was cut
    (over budget, stopped early) and whether its latency needed tuning or hit the caches.
    """

    def on_trial_result(self, iteration, trials, trial, result, **info):
        head = f"[canao] trial {trial.trial_id} {result.get('arch_key')}:"
        if not result.get("feasible", True):
            print(f"{head} {self._latency(result)}; over the budget by {result.get(CONSTRAINT_KEY, 0):.3f} ms, not trained", flush=True)
            return
        score = f"epoch {result.get('epoch')} score {result.get('score', 0):.4f}"
        if result.get("training_iteration") == 1:
            print(f"{head} {self._latency(result)}; {score}", flush=True)
        else:
            print(f"{head} {score}", flush=True)

    @staticmethod
    def _latency(result: dict) -> str:
        if result.get("latency_cached"):
            how = "cached"
        else:
            how = f"compile {result.get('compile_s', 0):.1f} s, tune {result.get('tune_s', 0):.1f} s"
        return f"latency {result.get('latency_ms', float('nan')):.3f} ms ({result.get('latency_backend')}, {how})"


def pareto_front(study: optuna.Study, space: BertSpace) -> list[dict]:
    """The feasible Pareto-optimal trials of the study, fastest first.

    Trials answered from an earlier one with the same params (see the searcher) are left
    out, so each architecture appears once.
    """
    front = []
    for t in study.best_trials:
        if DUPLICATE_OF in t.user_attrs:
            continue
        arch = space.arch(t.params)
        front.append(
            {
                "number": t.number,
                "ray_trial_id": t.user_attrs.get("ray_trial_id"),
                "arch_key": arch.key,
                "arch": arch.to_dict(),
                "params": t.params,
                "score": t.values[0],
                "latency_ms": t.values[1],
            }
        )
    return sorted(front, key=lambda row: row["latency_ms"])


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def plot_front(study: optuna.Study, front: list[dict], budget_ms: float, path: Path, score_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        "Pareto front": dict(marker="o", color="tab:red"),
        "dominated": dict(marker="o", color="tab:gray"),
        "stopped early": dict(marker="o", facecolors="none", edgecolors="tab:gray"),
        "over budget": dict(marker="x", color="black"),
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in groups.items():
        if points:
            ax.scatter(*zip(*points), label=name, **style[name])
    ax.axvline(budget_ms, linestyle="--", color="tab:blue", label=f"budget {budget_ms} ms")
    ax.set_xlabel("latency (ms, TVM-compiled)")
    ax.set_ylabel(f"dev {score_name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_hypervolume(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step([r["finished"] for r in history], [r["hypervolume"] for r in history], where="post")
    ax.set_xlabel("finished trials")
    ax.set_ylabel("hypervolume (score x ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def predictor_summary(trials: list[dict]) -> str | None:
    """How the latency predictor did (None when it was off or never ready): how many
    measurements it saved, and its error on the trials that were measured anyway."""
    skipped = sum(t["latency"].get("backend") == "predicted" for t in trials)
    pairs = [
        (t["latency"]["predicted_ms"], t["latency"]["median_ms"])
        for t in trials
        if t["latency"].get("predicted_ms") is not None and t["latency"].get("backend") != "predicted"
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


def trial_counts(study: optuna.Study) -> str:
    """One sentence saying what happened to the study's trials."""
    trials = study.get_trials(deepcopy=False)
    duplicates = sum(DUPLICATE_OF in t.user_attrs for t in trials)
    own = [t for t in trials if DUPLICATE_OF not in t.user_attrs]
    done = [t for t in own if t.state == TrialState.COMPLETE]
    over = sum(t.constraints.get(CONSTRAINT_NAME, 0.0) > 0 for t in done)
    pruned = sum(t.state == TrialState.PRUNED for t in own)
    failed = sum(t.state == TrialState.FAIL for t in own)
    return (
        f"Architectures fully evaluated: {len(done)} ({over} over the budget, not trained); "
        f"stopped early by the scheduler: {pruned}; failed: {failed}; "
        f"repeated suggestions answered from earlier trials: {duplicates}."
    )


def write_report(
    run_dir: Path, study: optuna.Study, space: BertSpace, budget_ms: float, command: str, score_name: str = "accuracy"
) -> list[dict]:
    front = pareto_front(study, space)
    write_atomic(run_dir / "pareto.json", json.dumps(front, indent=2))
    plot_front(study, front, budget_ms, run_dir / "pareto.png", score_name)
    lines = [
        f"# canao-ray search: {study.study_name}",
        "",
        f"Latency budget: {budget_ms} ms. {trial_counts(study)}",
        "",
        f"| trial | arch | layers | hidden | heads | FFN | {score_name} | latency ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in front:
        a = row["arch"] or {}
        lines.append(
            f"| {row['number']} | {row['arch_key']} | {a.get('num_layers')} | {a.get('hidden_size')} | "
            f"{a.get('num_heads')} | {a.get('intermediate_size')} | {row['score']:.4f} | {row['latency_ms']:.3f} |"
        )
    lines += ["", "![Pareto front](pareto.png)", ""]
    predictor = predictor_summary(read_records(run_dir / "trials.jsonl"))
    if predictor:
        lines += [predictor, ""]
    history = read_records(run_dir / HYPERVOLUME_FILE)
    if history:
        plot_hypervolume(history, run_dir / "hypervolume.png")
        lines += [
            f"Hypervolume after {history[-1]['finished']} finished trials: {history[-1]['hypervolume']:.4g} "
            f"(score x ms, reference point: score 0 and the {budget_ms} ms budget).",
            "",
            "![Hypervolume over finished trials](hypervolume.png)",
            "",
        ]
    lines += ["Reproduce:", "", "```", command, "```", ""]
    write_atomic(run_dir / "report.md", "\n".join(lines))
    return front
