"""How good a front each sampler finds for a number of trials, and what the Pareto
scheduler saves, on a fixed table of trained and measured architectures.

    python experiments/bench_search.py [--table experiments/results/search_benchmark.json] [--seeds 10]

The table (built once by ``build_search_benchmark.py``) holds each grid architecture's
TVM latency and its dev score after every epoch, so a "trial" is a lookup and a whole
comparison takes seconds. Samplers are the ones ``search.sampler`` selects
(``canao_ray.search.make_sampler``), driven the way the searcher drives them: the latency
budget as an Optuna constraint, an over-budget arch scored 0, a repeated proposal
answered from the earlier trial, marked ``duplicate_of`` and not counted (a search
never trains it twice).

Prints and writes (``--md``/``--json``), for each latency budget (by default the median
and the lower quartile of the table's latencies: half or a quarter of the space
feasible, since the tighter a real-time budget, the more trials a blind sampler wastes):
- the hypervolume of the whole table's feasible front, the most any search can reach;
- per sampler, the hypervolume (score x ms, reference: the table's worst score and the
  budget) after 16,
  32 and 64 trials, mean and standard deviation over the seeds, and the ratio of the
  mean at 32 to random search's and to the whole table's;
- for ``ParetoASHA`` (per grace period and reduction factor) over the trials random search proposes:
  training epochs spent and hypervolume reached, against training every feasible trial
  for every epoch; beside them, what a rule that knew the final scores would spend to
  keep the whole front when it stops the others at the same grace period.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import optuna
from ray.tune.schedulers import TrialScheduler

from canao_ray import SearchConfig
from canao_ray.keys import CONSTRAINT_NAME, MODES, OBJECTIVES
from canao_ray.results import hypervolume
from canao_ray.search import MAX_RESAMPLES, ParetoASHA, answer_from, finished_twin, make_sampler, nondomination_ranks
from search_spaces import BertSpace

HERE = Path(__file__).resolve().parent
SAMPLERS = ("random", "nsga2", "tpe", "gp", "controller")
CHECKPOINTS = (16, 32, 64)


def load_table(path: Path) -> tuple[BertSpace, dict[str, dict]]:
    table = json.loads(path.read_text())
    rows = table["rows"]
    missing = [key for key, row in rows.items() if "scores" not in row or "latency_ms" not in row]
    if missing:
        raise SystemExit(
            f"{path}: {len(missing)} rows lack scores or a latency; finish build_search_benchmark.py first"
        )
    space = BertSpace(**{k: tuple(v) for k, v in table["settings"]["grid"].items()})
    return space, rows


def table_epochs(rows: dict) -> int:
    """How many epochs each row of the table was trained (scores has one per epoch)."""
    return len(next(iter(rows.values()))["scores"])


def sampler_run(
    sampler_name: str, seed: int, space: BertSpace, rows: dict, budget_ms: float, trials: int, worst: float
) -> list[float]:
    """Hypervolume after each distinct architecture the sampler proposes, up to ``trials``
    (fewer when it proposes only known ones ``MAX_RESAMPLES`` times in a row: the search
    would end there, so later checkpoints read its last value)."""
    config = SearchConfig.from_dict(
        {"search": {"sampler": sampler_name, "seed": seed}, "latency": {"budget_ms": budget_ms}}
    )
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(config))
    points: list[tuple[float, float]] = []
    history: list[float] = []
    repeats = 0
    while len(history) < trials and len(history) < len(rows) and repeats < MAX_RESAMPLES:
        trial = study.ask()
        arch = space.sample(trial)
        earlier = finished_twin(study, trial)
        if earlier is not None:  # answered from the earlier trial, as the searcher does
            answer_from(study, trial, earlier)
            repeats += 1
            continue
        repeats = 0
        row = rows[arch.key]
        latency = row["latency_ms"]
        feasible = latency <= budget_ms
        score = row["scores"][-1] if feasible else 0.0
        trial.set_constraint(CONSTRAINT_NAME, latency - budget_ms)
        study.tell(trial, [score, latency])
        if feasible:
            points.append((score, latency))
        history.append(hypervolume(points, MODES, (worst, budget_ms)))
    return history


def scheduler_run(
    order: list[str], rows: dict, budget_ms: float, grace_period: int, reduction_factor: int, worst: float
) -> dict[str, float]:
    """Epochs and hypervolume with ParetoASHA, and with every feasible trial trained fully."""
    epochs = table_epochs(rows)
    scheduler = ParetoASHA(OBJECTIVES, MODES, "epoch", epochs, grace_period, reduction_factor)
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
        "hypervolume": hypervolume(kept, MODES, (worst, budget_ms)),
        "full_hypervolume": hypervolume(full, MODES, (worst, budget_ms)),
    }


def oracle_share(order: list[str], rows: dict, budget_ms: float, grace_period: int) -> float:
    """The epochs share of a stopping rule that knows the final scores: every feasible
    trial trains to the grace period, only those on the final front train on. No rule that
    decides at the grace period can keep the whole front for less, so it tells a weak
    scheduler from a target the table puts out of reach."""
    epochs = table_epochs(rows)
    feasible = [rows[key] for key in order if rows[key]["latency_ms"] <= budget_ms]
    ranks = nondomination_ranks([(-row["scores"][-1], row["latency_ms"]) for row in feasible])
    on_front = sum(rank == 0 for rank in ranks)
    return (on_front * epochs + (len(feasible) - on_front) * grace_period) / (len(feasible) * epochs)


def budget_section(args, space: BertSpace, rows: dict, budget: float, label: str) -> tuple[list[str], dict]:
    """The sampler table and the scheduler line for one latency budget."""
    # The reference point is the budget and the worst accuracy in the table: with score 0
    # instead, every front of a few decent points covers nearly the whole area and
    # samplers could not be told apart.
    worst = min(row["scores"][-1] for row in rows.values())
    feasible = [(row["scores"][-1], row["latency_ms"]) for row in rows.values() if row["latency_ms"] <= budget]
    best = hypervolume(feasible, MODES, (worst, budget))
    lines = [
        f"## Budget {budget:.4f} ms ({label}): {len(feasible)} of {len(rows)} architectures feasible",
        "",
        f"Reference point: score {worst:.4f} (the table's worst) and the budget. Hypervolume of the whole table's "
        f"feasible front (every architecture evaluated): {best:.4f}.",
        "",
        "| sampler | "
        + " | ".join(f"HV @{n} (mean ± sd)" for n in CHECKPOINTS)
        + " | @32 / random | @32 / whole table |",
        "|---|" + "---|" * (len(CHECKPOINTS) + 2),
    ]
    result: dict = {
        "budget_ms": budget,
        "label": label,
        "reference_score": worst,
        "feasible": len(feasible),
        "table_hypervolume": best,
        "samplers": {},
    }
    for name in args.samplers.split(","):
        runs = [sampler_run(name, seed, space, rows, budget, max(CHECKPOINTS), worst) for seed in range(args.seeds)]
        at = {n: [run[min(n, len(run)) - 1] for run in runs] for n in CHECKPOINTS}
        result["samplers"][name] = {str(n): values for n, values in at.items()}
        print(f"{label} {name}: " + ", ".join(f"@{n} {statistics.fmean(v):.4f}" for n, v in at.items()), flush=True)
    random_32 = statistics.fmean(result["samplers"]["random"]["32"]) if "random" in result["samplers"] else None
    for name, at in result["samplers"].items():
        cells = [f"{statistics.fmean(v):.4f} ± {statistics.pstdev(v):.4f}" for v in at.values()]
        ratio = f"{statistics.fmean(at['32']) / random_32:.3f}" if random_32 else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} | {statistics.fmean(at['32']) / best:.3f} |")

    orders = []
    for seed in range(args.seeds):
        study = optuna.create_study(
            directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=seed)
        )
        order: list[str] = []
        while len(order) < min(args.scheduler_trials, len(rows)):
            key = space.sample(study.ask()).key
            if key not in order:
                order.append(key)
        orders.append(order)
    lines += [
        "",
        f"ParetoASHA over {args.scheduler_trials} random-search trials, mean over {args.seeds} seeds, "
        "against training every feasible trial for every epoch:",
        "",
        "| grace period (epochs) | reduction factor | epochs spent (share) | hypervolume reached (share) | knowing the final scores: epochs share for the whole front |",
        "|---|---|---|---|---|",
    ]
    result["scheduler"] = []
    settings = [(int(g), int(f)) for g in args.grace_periods.split(",") for f in args.reduction_factors.split(",")]
    for grace, factor in settings:
        runs = [scheduler_run(order, rows, budget, grace, factor, worst) for order in orders]
        epochs = statistics.fmean(r["epochs"] / r["full_epochs"] for r in runs)
        hv = statistics.fmean(r["hypervolume"] / r["full_hypervolume"] for r in runs)
        oracle = statistics.fmean(oracle_share(order, rows, budget, grace) for order in orders)
        result["scheduler"].append({
            "grace_period": grace, "reduction_factor": factor, "trials": args.scheduler_trials,
            "epochs_share": epochs, "hypervolume_share": hv, "oracle_epochs_share": oracle, "runs": runs,
        })  # fmt: skip
        lines.append(f"| {grace} | {factor} | {epochs:.3f} | {hv:.3f} | {oracle:.3f} |")
    lines.append("")
    return lines, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, default=HERE / "results" / "search_benchmark.json")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--budget-ms", type=float, help="one latency budget (default: the quantiles of --budget-quantiles)"
    )
    parser.add_argument(
        "--budget-quantiles", default="0.5,0.25",
        help="budgets as quantiles of the table's latencies: 0.5 leaves half the space feasible, 0.25 a quarter",
    )  # fmt: skip
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--grace-periods", default="1,2,3", help="ParetoASHA grace periods (epochs) to compare")
    parser.add_argument("--reduction-factors", default="2,3,4", help="ParetoASHA reduction factors to compare")
    parser.add_argument("--scheduler-trials", type=int, default=32)
    parser.add_argument("--md", type=Path, default=HERE / "results" / "bench_search.md")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "bench_search.json")
    args = parser.parse_args(argv)
    command = " ".join(sys.argv[1:] if argv is None else argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    space, rows = load_table(args.table)
    epochs = table_epochs(rows)
    if any(not 1 <= int(g) < epochs for g in args.grace_periods.split(",")):
        parser.error(
            f"--grace-periods: each must be at least 1 and below the table's {epochs} epochs, got {args.grace_periods}"
        )
    latencies = sorted(row["latency_ms"] for row in rows.values())
    if args.budget_ms:
        budgets = [(args.budget_ms, "given")]
    else:
        quantiles = [float(q) for q in args.budget_quantiles.split(",")]
        budgets = [
            (latencies[min(len(latencies) - 1, int(q * len(latencies)))], f"quantile {q:g} of the table's latencies")
            for q in quantiles
        ]
    lines = [
        f"# Search benchmark: {len(rows)} architectures, {args.seeds} seeds",
        "",
        f"Table: `{args.table.name}` ({json.loads(args.table.read_text())['task']}). Hypervolume in score x ms. Command: `python experiments/bench_search.py "
        + command
        + "`.",
        "",
    ]
    result: dict = {"architectures": len(rows), "seeds": args.seeds, "budgets": []}
    for budget, label in budgets:
        section, figures = budget_section(args, space, rows, budget, label)
        lines += section
        result["budgets"].append(figures)
    print("\n".join(lines))
    args.md.write_text("\n".join(lines))
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
