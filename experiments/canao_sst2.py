"""CANAO on SST-2, end to end: tune, search, finalize, and compare with BERT-base.

    python experiments/canao_sst2.py --data-dir GLUE_DIR [--config experiments/canao_sst2.yaml] [--out DIR]
        [--beside OTHER_RUN] [--time-also ARCH --note TEXT]

Runs ``canao tune`` on the config's space, the search, ``canao finalize`` on its front,
then measures BERT-base's architecture (12/768/12/3072), the teacher's and every
finalized model on the same device with TVM (tuned), ONNX Runtime and ONNX Runtime on the
graph its transformer optimizer fused (``ort-opt``), and writes
``experiments/results/canao_sst2.md`` and ``.json``: latency, speedup over BERT-base,
parameters and SST-2 dev accuracy of every finalized model, with the run's wall time
and commit. BERT-base's accuracy is not trained here; the table quotes the paper's.

The latencies of the table are measured together at the end, interleaved over
``--rounds`` rounds, and each speedup is the median of its per-round ratios: this
machine's speed drifts by tens of percent over minutes, so only figures taken side by
side compare. Run again with the same ``--out`` after an interruption: a finished
search and a finished finalize are kept (their phase times too), the rest is redone.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import ray
from provenance import commit

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.deploy import FINAL_DIR
from canao_ray.search import pretune
from canao_ray.teacher import prepare_teacher
from device_profilers import measure_latency, running_broker
from device_profilers.files import write_atomic
from search_spaces import Arch

HERE = Path(__file__).resolve().parent
BERT_BASE = Arch.uniform(12, 768, 12, 3072)
BERT_BASE_SST2_DEV = 92.5  # the reference figure for BERT-base on SST-2 dev (not measured here)
BACKENDS = ("tvm", "ort", "ort-opt")
STATE_FILE = "experiment.json"  # in the run directory: phase times, kept across invocations


def total_params(arch: Arch, vocab_size: int, positions: int) -> int:
    """Parameters of the whole classifier (embeddings included), counted without allocating it."""
    import torch
    from transformers import BertForSequenceClassification

    from search_spaces import to_bert_config

    with torch.device("meta"):
        model = BertForSequenceClassification(
            to_bert_config(arch, vocab_size=vocab_size, max_position_embeddings=positions)
        )
    return sum(p.numel() for p in model.parameters())


def compare_latencies(config: SearchConfig, archs: list[Arch], rounds: int) -> dict[str, dict]:
    """Each arch with each backend, measured afresh ``rounds`` times, interleaved; per arch
    and backend the per-round medians, and per arch its per-round TVM speedup over the
    first arch (BERT-base)."""
    device = config.latency.make_device()
    archs = list(dict.fromkeys(archs))  # the teacher's shape may also be a finalized one
    runs = {arch.key: {backend: [] for backend in BACKENDS} for arch in archs}
    started_here = not ray.is_initialized()  # the search and finalize may have left Ray running
    if started_here:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        with running_broker(
            [device], str(config.resolved_cache_dir()), config.latency.tuning, config.latency.protocol, use_cache=False
        ):
            for round_index in range(rounds):
                for arch in archs:
                    for backend in BACKENDS:
                        latency = measure_latency(arch, device.name, backend, config.latency.batch, config.task.seq_len)
                        runs[arch.key][backend].append(latency.median_ms)
                        print(
                            f"[canao] round {round_index + 1} {arch.key} {backend}: {latency.median_ms:.2f} ms",
                            flush=True,
                        )
    finally:
        if started_here:
            ray.shutdown()
    base = runs[archs[0].key]["tvm"]
    return {
        key: {
            "latency_ms": {backend: statistics.median(values) for backend, values in by_backend.items()},
            "per_round_ms": by_backend,
            "speedup_tvm": statistics.median(b / m for b, m in zip(base, by_backend["tvm"])),
        }
        for key, by_backend in runs.items()
    }


def markdown(result: dict) -> str:
    phases = result["phases_s"]
    teacher = result["teacher"]
    lines = [
        f"# CANAO on SST-2, {result['date']}, commit {result['commit']}",
        "",
        f"Command: `{result['command']}`. Wall time of all phases: {result['wall_s'] / 3600:.2f} h "
        + "("
        + ", ".join(f"{name} {seconds / 60:.0f} min" for name, seconds in phases.items())
        + "). "
        + f"The teacher's fine-tuning took {teacher['finetune_s'] / 60:.0f} min"
        + (
            " (included above)."
            if not teacher["cached"]
            else " in an earlier invocation (its cached result was used; added to the total)."
        )
        + (
            " The search had finished in this run directory before this invocation (an earlier one ran it; its time is counted above)."
            if result.get("search_reused")
            else ""
        )
        + f" Device {result['device']}, batch 1, sequence {result['seq_len']}; TVM: "
        + (
            "matmuls scheduled by the matmul rule, kernels no rule takes tuned with "
            if result.get("matmuls", "tune") == "rule"
            else "tuned with "
        )
        + f"{result['trials_per_task']} MetaSchedule trials per task. Latencies: {result['rounds']} interleaved rounds, "
        "median per backend (ORT-opt: ONNX Runtime on the graph its transformer optimizer fused, attention included); "
        "speedup: median of the per-round ratios to BERT-base (TVM).",
        "",
        "| model | arch | params | TVM ms | ORT ms | ORT-opt ms | speedup over BERT-base (TVM) | SST-2 dev accuracy (PyTorch) | (ONNX Runtime) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, entry: dict, accuracy: str, ort_accuracy: str) -> str:
        latency = entry["latency_ms"]
        return (
            f"| {name} | {entry['arch']} | {entry['params'] / 1e6:.1f}M | {latency['tvm']:.2f} | {latency['ort']:.2f} | "
            f"{latency['ort-opt']:.2f} | "
            f"{entry['speedup_tvm']:.1f}x | {accuracy} | {ort_accuracy} |"
        )

    reference_accuracy = (
        f"{BERT_BASE_SST2_DEV} (reference, not trained here)"
        if result["bert_base"]["arch"] == BERT_BASE.key
        else "not trained"
    )
    lines.append(row("BERT-base", result["bert_base"], reference_accuracy, ""))
    lines.append(row(f"teacher ({teacher['model']})", teacher, f"{100 * teacher['accuracy']:.2f}", ""))
    for entry in result["finalized"]:
        metrics = entry["metrics"]
        lines.append(
            row(
                f"finalized ({entry.get('space', result['space'])} space)",
                entry,
                f"{100 * metrics['pytorch']['accuracy']:.2f}",
                f"{100 * metrics['onnxruntime']['accuracy']:.2f}",
            )
        )
    for entry in result.get("timed_also", []):
        lines.append(row("timed beside (not trained here)", entry, "", ""))
    if result.get("note"):
        lines += ["", result["note"]]
    lines += ["", f"Run directory: `{result['run_dir']}`; JSON: `canao_sst2.json`.", ""]
    return "\n".join(lines)


def load_state(run_dir: Path) -> dict[str, float]:
    state = run_dir / STATE_FILE
    return json.loads(state.read_text())["phases_s"] if state.is_file() else {}


def save_state(run_dir: Path, phases: dict[str, float]) -> None:
    write_atomic(run_dir / STATE_FILE, json.dumps({"phases_s": phases}, indent=2))


def timed(phases: dict[str, float], name: str, work):
    mark = time.perf_counter()
    value = work()
    phases[name] = phases.get(name, 0.0) + time.perf_counter() - mark
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "canao_sst2.yaml")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="the folder holding sst2/train.tsv and dev.tsv (default: the config's, or the hub)",
    )
    parser.add_argument("--out", type=Path, default=Path("canao_runs") / f"canao-sst2-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the final latency comparison")
    parser.add_argument(
        "--beside", type=Path, action="append", default=[], help="a finished, finalized run whose models join the table"
    )
    parser.add_argument(
        "--time-also",
        type=Arch.from_key,
        action="append",
        default=[],
        metavar="ARCH",
        help="an architecture timed beside the others but not trained here (e.g. another space's pick)",
    )
    parser.add_argument("--note", default="", help="a sentence for the table's page (where the extra rows come from)")
    parser.add_argument(
        "--reference",
        type=Arch.from_key,
        default=BERT_BASE,
        help=f"the baseline architecture (default {BERT_BASE.key})",
    )
    args = parser.parse_args()
    config = SearchConfig.from_yaml(args.config)
    if args.data_dir is not None:
        values = config.to_dict()
        config = SearchConfig.from_dict(
            {**values, "task": {**values["task"], "data_dir": str(args.data_dir.resolve())}}
        )
    run_dir = args.out
    searched = (run_dir / "pareto.json").is_file()
    if run_dir.exists() and any(run_dir.iterdir()) and not searched:
        raise SystemExit(
            f"{run_dir}: a search that did not finish; run `canao search --resume {run_dir}`, then this again"
        )
    phases = load_state(run_dir) if searched else {}

    timed(phases, "tune", lambda: pretune(config))
    teacher_dir = timed(phases, "teacher", lambda: prepare_teacher(config, config.resolved_cache_dir()))
    if not searched:
        timed(phases, "search", lambda: run_search(config, run_dir))
        save_state(run_dir, phases)
    summary = run_dir / FINAL_DIR / "summary.json"
    if summary.is_file():
        finalized = json.loads(summary.read_text())
    else:
        finalized = timed(phases, "finalize", lambda: finalize_run(run_dir))
        save_state(run_dir, phases)

    teacher_metrics = json.loads((teacher_dir / "metrics.json").read_text())
    teacher_config = json.loads((teacher_dir / "config.json").read_text())
    teacher_arch = Arch.uniform(
        teacher_config["num_hidden_layers"], teacher_config["hidden_size"],
        teacher_config["num_attention_heads"], teacher_config["intermediate_size"],
    )  # fmt: skip
    for other in args.beside:
        space = SearchConfig.from_yaml(other / "config.yaml").space
        finalized += [
            {**entry, "space": getattr(space, "kind", "tune"), "run_dir": str(other)}
            for entry in json.loads((other / FINAL_DIR / "summary.json").read_text())
        ]
    final_archs = [Arch.from_dict(entry["arch"]) for entry in finalized]
    compared = timed(
        phases,
        "compare",
        lambda: compare_latencies(config, [args.reference, teacher_arch, *final_archs, *args.time_also], args.rounds),
    )
    save_state(run_dir, phases)
    # A teacher fine-tuned by an earlier invocation cost its time there: count it once.
    teacher_cached = phases["teacher"] < teacher_metrics.get("finetune_s", 0.0)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit(),
        "command": "python " + " ".join(sys.argv),
        "device": config.latency.device,
        "seq_len": config.task.seq_len,
        "trials_per_task": config.latency.tuning.trials_per_task,
        "matmuls": config.latency.tuning.matmuls,
        "rounds": args.rounds,
        "search_reused": searched,
        "run_dir": str(run_dir),
        "space": getattr(config.space, "kind", "tune"),
        "phases_s": phases,
        "wall_s": sum(phases.values()) + (teacher_metrics.get("finetune_s", 0.0) if teacher_cached else 0.0),
        "bert_base": {
            "arch": args.reference.key,
            "params": total_params(args.reference, teacher_config["vocab_size"], 512),
            **compared[args.reference.key],
        },
        "teacher": {
            "model": config.teacher.model,
            "arch": teacher_arch.key,
            "params": total_params(
                teacher_arch, teacher_config["vocab_size"], teacher_config["max_position_embeddings"]
            ),
            "accuracy": teacher_metrics["accuracy"],
            "finetune_s": teacher_metrics.get("finetune_s", phases["teacher"]),
            "cached": teacher_cached,
            **compared[teacher_arch.key],
        },
        "finalized": [
            {
                **entry,
                "arch": entry["arch_key"],
                "finalize_latency_ms": entry["latency_ms"],
                **compared[entry["arch_key"]],
            }
            for entry in finalized
        ],
        "timed_also": [
            {"arch": arch.key, "params": total_params(arch, teacher_config["vocab_size"], 512), **compared[arch.key]}
            for arch in args.time_also
        ],
        "note": args.note,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "canao_sst2.json").write_text(json.dumps(result, indent=2))
    (args.results / "canao_sst2.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
