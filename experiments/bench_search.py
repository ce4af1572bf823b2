"""How good a front each sampler finds for a number of trials, and what the Pareto
scheduler saves, on a fixed table of trained and measured architectures.

    python experiments/bench_search.py [--table experiments/results/search_benchmark.json] [--seeds 10]

The table (built once by ``build_search_benchmark.py``) holds each grid architecture's
TVM latency and its dev score after every epoch, so a "trial" is a lookup and a whole
comparison takes seconds. Samplers are the ones ``search.sampler`` selects
(``canao_ray.search.make_sampler``), driven the way the searcher drives them: the latency
budget as an Optuna constraint, an over-budget arch scored 0, a repeated proposal
answered from the earlier trial and not counted (a search never trains it twice).

Prints and writes (``--md``/``--json``):
- per sampler, the hypervolume (score x ms, reference: score 0 and the budget) after 16,
  32 and 64 trials, mean and standard deviation over the seeds, and the ratio of the
  mean to random search's;
- for ``ParetoASHA`` over the trials random search proposes: training epochs spent and
  hypervolume reached, against training every feasible trial for every epoch.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from types import SimpleNamespace

import optuna
from ray.tune.schedulers import TrialScheduler

from canao_ray import SearchConfig, hypervolume
from canao_ray.scheduler import ParetoASHA
from canao_ray.search import make_sampler
from canao_ray.searcher import CONSTRAINT_NAME
from search_spaces import BertSpace

HERE = Path(__file__).resolve().parent
SAMPLERS = ("random", "nsga2", "tpe", "gp", "controller")
CHECKPOINTS = (16, 32, 64)
MODES = ["max", "min"]
MAX_RESAMPLES = 64  # repeats in a row after which the searcher ends the search, as ConstrainedOptunaSearch does


def load_table(path: Path) -> tuple[BertSpace, dict[str, dict]]:
    table = json.loads(path.read_text())
    rows = table["rows"]
    missing = [key for key, row in rows.items() if "scores" not in row or "latency_ms" not in row]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} rows lack scores or a latency; finish build_search_benchmark.py first")
    space = BertSpace(**{k: tuple(v) for k, v in table["settings"]["grid"].items()})
    return space, rows


def sampler_run(sampler_name: str, seed: int, space: BertSpace, rows: dict, budget_ms: float, trials: int) -> list[float]:
    """Hypervolume after each distinct architecture the sampler proposes, up to ``trials``
    (fewer when it proposes only known ones ``MAX_RESAMPLES`` times in a row: the search
    would end there, so later checkpoints read its last value)."""
    config = SearchConfig.from_dict({"search": {"sampler": sampler_name, "seed": seed}, "latency": {"budget_ms": budget_ms}})
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(config))
    seen: set[str] = set()
    points: list[tuple[float, float]] = []
    history: list[float] = []
    repeats = 0
    while len(history) < trials and len(seen) < len(rows) and repeats < MAX_RESAMPLES:
        trial = study.ask()
        arch = space.sample(trial)
        row = rows[arch.key]
        latency = row["latency_ms"]
        feasible = latency <= budget_ms
        score = row["scores"][-1] if feasible else 0.0
        trial.set_constraint(CONSTRAINT_NAME, latency - budget_ms)
        study.tell(trial, [score, latency])
        if arch.key in seen:
            repeats += 1
            continue
        repeats = 0
        seen.add(arch.key)
        if feasible:
            points.append((score, latency))
        history.append(hypervolume(points, MODES, (0.0, budget_ms)))
    return history


def scheduler_run(order: list[str], rows: dict, budget_ms: float, reduction_factor: int) -> dict[str, float]:
    """Epochs and hypervolume with ParetoASHA, and with every feasible trial trained fully."""
    epochs = len(next(iter(rows.values()))["scores"])
    scheduler = ParetoASHA(["score", "latency_ms"], MODES, "epoch", epochs, 1, reduction_factor)
    spent = full_spent = 0
    kept, full = [], []
    for key in order:
        row = rows[key]
        if row["latency_ms"] > budget_ms:
            continue  # never trained, by either
        full_spent += epochs
        full.append((row["scores"][-1], row["latency_ms"]))
        trial = SimpleNamespace(trial_id=key)
        for epoch, score in enumerate(row["scores"], 1):
            spent += 1
            result = {"epoch": epoch, "score": score, "latency_ms": row["latency_ms"]}
            if scheduler.on_trial_result(None, trial, result) == TrialScheduler.STOP and epoch < epochs:
                break
        else:
            kept.append((row["scores"][-1], row["latency_ms"]))
    return {
        "epochs": spent,
        "full_epochs": full_spent,
        "hypervolume": hypervolume(kept, MODES, (0.0, budget_ms)),
        "full_hypervolume": hypervolume(full, MODES, (0.0, budget_ms)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=HERE / "results" / "search_benchmark.json")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget-ms", type=float, help="latency budget (default: the table's median latency)")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--reduction-factor", type=int, default=2)
    parser.add_argument("--scheduler-trials", type=int, default=32)
    parser.add_argument("--md", type=Path, default=HERE / "results" / "bench_search.md")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "bench_search.json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    space, rows = load_table(args.table)
    budget = args.budget_ms or statistics.median(row["latency_ms"] for row in rows.values())
    feasible = sum(row["latency_ms"] <= budget for row in rows.values())
    lines = [
        f"# Search benchmark: {len(rows)} architectures, budget {budget:.4f} ms ({feasible} feasible), {args.seeds} seeds",
        "",
        f"Table: `{args.table.name}`. Hypervolume in score x ms (reference: score 0 and the budget).",
        "",
        "| sampler | " + " | ".join(f"HV @{n} (mean ± sd)" for n in CHECKPOINTS) + " | @32 / random |",
        "|---|" + "---|" * (len(CHECKPOINTS) + 1),
    ]
    result: dict = {"budget_ms": budget, "architectures": len(rows), "seeds": args.seeds, "samplers": {}}
    for name in args.samplers.split(","):
        runs = [sampler_run(name, seed, space, rows, budget, max(CHECKPOINTS)) for seed in range(args.seeds)]
        at = {n: [run[min(n, len(run)) - 1] for run in runs] for n in CHECKPOINTS}
        result["samplers"][name] = {str(n): values for n, values in at.items()}
        print(f"{name}: " + ", ".join(f"@{n} {statistics.fmean(v):.4f}" for n, v in at.items()), flush=True)
    random_32 = statistics.fmean(result["samplers"]["random"]["32"]) if "random" in result["samplers"] else None
    for name, at in result["samplers"].items():
        cells = [f"{statistics.fmean(v):.4f} ± {statistics.pstdev(v):.4f}" for v in at.values()]
        ratio = f"{statistics.fmean(at['32']) / random_32:.3f}" if random_32 else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")

    scheduler_rows = []
    for seed in range(args.seeds):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=seed))
        order: list[str] = []
        while len(order) < min(args.scheduler_trials, len(rows)):
            key = space.sample(study.ask()).key
            if key not in order:
                order.append(key)
        scheduler_rows.append(scheduler_run(order, rows, budget, args.reduction_factor))
    epochs = statistics.fmean(r["epochs"] / r["full_epochs"] for r in scheduler_rows)
    hv = statistics.fmean(r["hypervolume"] / r["full_hypervolume"] for r in scheduler_rows)
    result["scheduler"] = {"reduction_factor": args.reduction_factor, "trials": args.scheduler_trials, "runs": scheduler_rows}
    lines += [
        "",
        f"ParetoASHA (grace 1 epoch, reduction factor {args.reduction_factor}) over {args.scheduler_trials} random-search "
        f"trials, mean over {args.seeds} seeds: epochs spent {epochs:.3f} of training every feasible trial fully, "
        f"hypervolume {hv:.3f} of its.",
        "",
    ]
    print("\n".join(lines))
    args.md.write_text("\n".join(lines))
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
