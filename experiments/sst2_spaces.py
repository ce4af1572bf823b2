"""SST-2: the uniform space of ``canao_sst2.yaml`` against a per-layer space, same setting.

    python experiments/sst2_spaces.py --data-dir GLUE_DIR --out DIR [--spaces per_layer,uniform] [--finalize]

Both searches take everything from ``experiments/canao_sst2.yaml`` (teacher, proxy
training, trial count, sampler, budget) but the space; the per-layer space is
``experiments/sst2_per_layer_space.yaml``. For each space the script tunes its operator
shapes, runs the search (a finished one in ``DIR/<space>`` is kept), and reports its
front: hypervolume over the same reference point (score 0, the budget) and the best dev
score at 5.2x and at 8x BERT-base's TVM latency, measured here in the same run.
``--finalize`` then trains the per-layer front's best model at 8x or faster on the whole
training split, bundles it, and measures it beside BERT-base over interleaved rounds.
Writes ``experiments/results/sst2_spaces.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml
from canao_sst2 import BERT_BASE, compare_latencies
from provenance import commit

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.deploy import chosen_archs
from canao_ray.keys import MODES
from canao_ray.results import hypervolume
from canao_ray.search import pretune
from canao_ray.search.run import hypervolume_reference
from canao_ray.teacher import prepare_teacher
from device_profilers.files import write_atomic

HERE = Path(__file__).resolve().parent
SPEEDUPS = (5.2, 8.0)


def space_config(base: SearchConfig, space: str) -> SearchConfig:
    """``base`` with the named space (``uniform``: its own) and a name of its own."""
    values = base.to_dict()
    if space != "uniform":
        values["space"] = yaml.safe_load((HERE / f"sst2_{space}_space.yaml").read_text())["space"]
    return SearchConfig.from_dict({**values, "name": f"{base.name}-{space}"})


def front_summary(config: SearchConfig, run_dir: Path, base_ms: float) -> dict:
    front = json.loads((run_dir / "pareto.json").read_text())
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    best = {}
    for speedup in SPEEDUPS:
        fast = [row for row in front if row["latency_ms"] <= base_ms / speedup]
        top = max(fast, key=lambda row: row["score"]) if fast else None
        best[f"{speedup:g}x"] = (
            {"arch": top["arch_key"], "score": top["score"], "latency_ms": top["latency_ms"]} if top else None
        )
    return {
        "hypervolume": hypervolume(
            [(r["score"], r["latency_ms"]) for r in front], MODES, hypervolume_reference(config)
        ),
        "front": [{k: row[k] for k in ("arch_key", "score", "latency_ms")} for row in front],
        "trials": len(trials),
        "best_at": best,
    }


def hypervolume_above(front: list[dict], floor_ms: float, budget_ms: float) -> float:
    """The front's hypervolume over latencies from ``floor_ms`` to the budget only: where
    spaces of different reach are compared, the part both can cover."""
    return hypervolume([(r["score"], max(r["latency_ms"], floor_ms)) for r in front], MODES, (0.0, budget_ms))


def markdown(result: dict) -> str:
    base = result["bert_base_tvm_ms"]
    # The slowest of the fronts' fastest points: every space reaches the latencies above it.
    floor = max(min(row["latency_ms"] for row in entry["front"]) for entry in result["spaces"].values())
    lines = [
        f"# SST-2: uniform against per-layer architecture spaces, {result['date']}, commit {result['commit']}",
        "",
        f"Command: `{result['command']}`. Same setting for both (`experiments/canao_sst2.yaml`: teacher, "
        f"proxy training, {result['num_samples']} trials, sampler, {result['budget_ms']} ms budget); the per-layer space "
        f"is `experiments/sst2_per_layer_space.yaml`. BERT-base ({BERT_BASE.key}) TVM: {base:.2f} ms here, so 5.2x is "
        f"{base / 5.2:.2f} ms and 8x {base / 8:.2f} ms. Hypervolume: score x ms over the reference point "
        f"(score 0, {result['budget_ms']} ms). Scores are the search's proxy dev accuracy (8000 examples, 2 epochs). "
        + (
            f"The teacher's fine-tuning ({result['teacher_s'] / 60:.0f} min) is shared and not in the search times."
            if "teacher_s" in result
            else ""
        ),
        "",
        f"| space | trials | front points | hypervolume | hypervolume above {floor:.2f} ms | best at 5.2x (arch, dev acc, ms) "
        "| best at 8x (arch, dev acc, ms) | search min (shapes' tuning included) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in result["spaces"].items():
        cells = []
        for speedup in SPEEDUPS:
            best = entry["best_at"][f"{speedup:g}x"]
            cells.append(f"{best['arch']}, {100 * best['score']:.2f}, {best['latency_ms']:.2f}" if best else "none")
        minutes = f"{entry['search_s'] / 60:.0f}" if "search_s" in entry else "-"
        lines.append(
            f"| {name} | {entry['trials']} | {len(entry['front'])} | {entry['hypervolume']:.3f} | "
            f"{hypervolume_above(entry['front'], floor, result['budget_ms']):.3f} | {cells[0]} | {cells[1]} | {minutes} |"
        )
    if result.get("note"):
        lines += ["", result["note"]]
    for name, entry in result["spaces"].items():
        lines += ["", f"Front of the {name} space:", "", "| arch | dev acc | TVM ms |", "|---|---|---|"]
        lines += [
            f"| {row['arch_key']} | {100 * row['score']:.2f} | {row['latency_ms']:.2f} |" for row in entry["front"]
        ]
    for row in result.get("finalized", []):
        m, lat = row["metrics"], row["compared"]["latency_ms"]
        lines += [
            "",
            f"Finalized per-layer model {row['arch_key']}: TVM {lat['tvm']:.2f} ms, ORT {lat['ort']:.2f} ms, "
            f"{row['compared']['speedup_tvm']:.1f}x BERT-base (median of per-round ratios, {result['rounds']} interleaved "
            f"rounds); SST-2 dev accuracy {100 * m['pytorch']['accuracy']:.2f} (PyTorch), "
            f"{100 * m['onnxruntime']['accuracy']:.2f} (ONNX Runtime).",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "canao_sst2.yaml")
    parser.add_argument("--data-dir", type=Path, required=True, help="the folder holding sst2/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spaces", default="per_layer,uniform")
    parser.add_argument("--finalize", action="store_true", help="finalize the per-layer front's best model at 8x")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    base = SearchConfig.from_yaml(args.config)
    values = base.to_dict()
    base = SearchConfig.from_dict({**values, "task": {**values["task"], "data_dir": str(args.data_dir.resolve())}})
    state_file = args.out / "sst2_spaces.json"
    result = json.loads(state_file.read_text()) if state_file.is_file() else {"spaces": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    if "bert_base_tvm_ms" not in result:
        result["bert_base_tvm_ms"] = compare_latencies(base, [BERT_BASE], 1)[BERT_BASE.key]["latency_ms"]["tvm"]
    start = time.perf_counter()  # both searches share the fine-tuned teacher: prepared once, timed apart
    prepare_teacher(base, base.resolved_cache_dir())
    result.setdefault("teacher_s", time.perf_counter() - start)
    for space in args.spaces.split(","):
        config, run_dir = space_config(base, space), args.out / space
        if not (run_dir / "pareto.json").is_file():
            start = time.perf_counter()
            pretune(config)
            run_search(config, run_dir)
            result["spaces"][space] = {"search_s": time.perf_counter() - start}
        result["spaces"][space] = {
            **result["spaces"].get(space, {}),
            **front_summary(config, run_dir, result["bert_base_tvm_ms"]),
        }
        write_atomic(state_file, json.dumps(result, indent=2))
    if args.finalize:
        run_dir = args.out / "per_layer"
        (arch,) = chosen_archs(run_dir, 1, result["bert_base_tvm_ms"] / 8)
        (row,) = finalize_run(run_dir, [arch])
        compared = compare_latencies(base, [BERT_BASE, arch], args.rounds)
        result["finalized"] = [{**row, "compared": compared[arch.key]}]
    result.update(
        date=time.strftime("%Y-%m-%d"), commit=commit(), command="python " + " ".join(sys.argv), rounds=args.rounds,
        num_samples=base.search.num_samples, budget_ms=base.latency.budget_ms,
    )  # fmt: skip
    write_atomic(state_file, json.dumps(result, indent=2))
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sst2_spaces.json").write_text(json.dumps(result, indent=2))
    (args.results / "sst2_spaces.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
