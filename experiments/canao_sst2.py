"""CANAO on SST-2, end to end: tune, search, finalize, and compare with BERT-base.

    python experiments/canao_sst2.py [--config experiments/canao_sst2.yaml] [--out DIR]

Runs ``canao tune`` on the config's space, the search, ``canao finalize`` on its front,
then measures BERT-base's architecture (12/768/12/3072) and the teacher's on the same
device with TVM (tuned) and ONNX Runtime, and writes
``experiments/results/canao_sst2.md`` and ``.json``: latency, speedup over BERT-base,
parameters and SST-2 dev accuracy of every finalized model, with the run's wall time
and commit. BERT-base's accuracy is not trained here; the table quotes the paper's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.pretune import pretune
from canao_ray.profile import profile_arch
from canao_ray.teacher import prepare_teacher
from search_spaces import Arch

HERE = Path(__file__).resolve().parent
BERT_BASE = Arch(12, 768, 12, 3072)
BERT_BASE_SST2_DEV = 92.5  # the reference figure for BERT-base on SST-2 dev (not measured here)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def total_params(arch: Arch, vocab_size: int, positions: int) -> int:
    """Parameters of the whole classifier (embeddings included), counted without allocating it."""
    import torch
    from transformers import BertForSequenceClassification

    from search_spaces import to_bert_config

    with torch.device("meta"):
        model = BertForSequenceClassification(to_bert_config(arch, vocab_size=vocab_size, max_position_embeddings=positions))
    return sum(p.numel() for p in model.parameters())


def measure(config: SearchConfig, arch: Arch) -> dict[str, float]:
    latencies = profile_arch(
        arch,
        config.latency.make_device(),
        ["tvm", "ort"],
        batch=config.latency.batch,
        seq_len=config.task.seq_len,
        cache_dir=config.resolved_cache_dir(),
        tuning=config.latency.tuning,
        protocol=config.latency.protocol,
        use_cache=False,  # measured afresh, like finalize's models
    )
    return {lat.backend: lat.median_ms for lat in latencies}


def markdown(result: dict) -> str:
    base = result["bert_base"]["latency_ms"]["tvm"]
    lines = [
        f"# CANAO on SST-2, {result['date']}, commit {result['commit']}",
        "",
        f"Wall time of the whole run (`{result['command']}`): {result['wall_s'] / 3600:.2f} h "
        f"(tune {result['phases_s']['tune'] / 60:.0f} min, teacher {result['phases_s']['teacher'] / 60:.0f} min, "
        f"search {result['phases_s']['search'] / 60:.0f} min, finalize {result['phases_s']['finalize'] / 60:.0f} min). "
        f"Device {result['device']}, batch 1, sequence {result['seq_len']}; TVM tuned with "
        f"{result['trials_per_task']} MetaSchedule trials per task.",
        "",
        "| model | arch | params | TVM ms | ORT ms | speedup over BERT-base (TVM) | SST-2 dev accuracy (PyTorch) | (ONNX Runtime) |",
        "|---|---|---|---|---|---|---|---|",
        f"| BERT-base | {BERT_BASE.key} | {result['bert_base']['params'] / 1e6:.1f}M | {base:.2f} | "
        f"{result['bert_base']['latency_ms']['ort']:.2f} | 1.0x | {BERT_BASE_SST2_DEV} (reference, not trained here) | |",
    ]
    teacher = result["teacher"]
    lines.append(
        f"| teacher ({teacher['model']}) | {teacher['arch']} | {teacher['params'] / 1e6:.1f}M | {teacher['latency_ms']['tvm']:.2f} | "
        f"{teacher['latency_ms']['ort']:.2f} | {base / teacher['latency_ms']['tvm']:.1f}x | {100 * teacher['accuracy']:.2f} | |"
    )
    for row in result["finalized"]:
        metrics = row["metrics"]
        lines.append(
            f"| finalized | {row['arch_key']} | {row['params'] / 1e6:.1f}M | {row['latency_ms']['tvm']:.2f} | "
            f"{row['latency_ms']['ort']:.2f} | {base / row['latency_ms']['tvm']:.1f}x | "
            f"{100 * metrics['pytorch']['accuracy']:.2f} | {100 * metrics['onnxruntime']['accuracy']:.2f} |"
        )
    lines += ["", f"Run directory: `{result['run_dir']}`; JSON: `canao_sst2.json`.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "canao_sst2.yaml")
    parser.add_argument("--out", type=Path, default=Path("canao_runs") / f"canao-sst2-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    config = SearchConfig.from_yaml(args.config)
    start = time.perf_counter()
    phases = {}

    mark = time.perf_counter()
    pretune(config)
    phases["tune"] = time.perf_counter() - mark
    mark = time.perf_counter()
    teacher_dir = prepare_teacher(config, config.resolved_cache_dir())
    phases["teacher"] = time.perf_counter() - mark
    mark = time.perf_counter()
    run_dir = run_search(config, args.out)
    phases["search"] = time.perf_counter() - mark
    mark = time.perf_counter()
    finalized = finalize_run(run_dir)
    phases["finalize"] = time.perf_counter() - mark

    teacher_metrics = json.loads((teacher_dir / "metrics.json").read_text())
    teacher_config = json.loads((teacher_dir / "config.json").read_text())
    teacher_arch = Arch(
        teacher_config["num_hidden_layers"], teacher_config["hidden_size"],
        teacher_config["num_attention_heads"], teacher_config["intermediate_size"],
    )
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit(),
        "command": "python " + " ".join(sys.argv),
        "device": config.latency.device,
        "seq_len": config.task.seq_len,
        "trials_per_task": config.latency.tuning.trials_per_task,
        "run_dir": str(run_dir),
        "bert_base": {"latency_ms": measure(config, BERT_BASE), "params": total_params(BERT_BASE, teacher_config["vocab_size"], 512)},
        "teacher": {
            "model": config.teacher.model,
            "arch": teacher_arch.key,
            "params": total_params(teacher_arch, teacher_config["vocab_size"], teacher_config["max_position_embeddings"]),
            "accuracy": teacher_metrics["accuracy"],
            "latency_ms": measure(config, teacher_arch),
        },
        "finalized": finalized,
    }
    result["wall_s"] = time.perf_counter() - start
    result["phases_s"] = phases
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "canao_sst2.json").write_text(json.dumps(result, indent=2))
    (args.results / "canao_sst2.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
