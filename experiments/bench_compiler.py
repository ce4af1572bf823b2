"""How the TVM-compiled model compares with ONNX Runtime and PyTorch on this CPU.

One run, batch 1, sequence 128, for BERT-base, the MiniLM-L6 shape, the SST-2 front's
L5-H384 and a small shape: median latency per backend (same protocol: TVM, plain ONNX
Runtime, ONNX Runtime on the graph its transformer optimizer fused, PyTorch), the TVM/ORT
ratios, which operators the optimizer fused, achieved GFLOP/s
against this machine's sgemm peak measured in the same run, the tuning time, and the
time to compile a new arch whose operator shapes are all in the tuning database.

Backends are measured interleaved, ``--rounds`` times, and the ratio is taken per round
then its median reported: the machine is shared and noisy, so only side-by-side
figures mean anything.

    python experiments/bench_compiler.py --json experiments/results/bench_compiler.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_cpu
from search_spaces import Arch

SHAPES = {
    "quickstart": Arch.uniform(3, 128, 2, 256),  # in the embedded quickstart's space (use --seq-len 32)
    "small": Arch.uniform(4, 256, 4, 1024),
    "minilm-l6": Arch.uniform(6, 384, 12, 1536),
    "l5-h384": Arch.uniform(5, 384, 12, 1536),
    "bert-base": Arch.uniform(12, 768, 12, 3072),
}
BACKENDS = ("tvm", "ort", "ort-opt", "torch")

PEAK_SCRIPT = """
import time, numpy as np
a = np.random.rand(4096, 4096).astype(np.float32); b = np.random.rand(4096, 4096).astype(np.float32)
a @ b
best = min((lambda s: (a @ b, time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(5))
print(2 * 4096 ** 3 / best / 1e9)
"""


def sgemm_peak_gflops() -> float:
    """numpy's fp32 4096^2 matmul in a clean process: the machine's practical GEMM peak.

    Some machines here set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for old OpenBLAS builds;
    they are removed for this child only, so the peak is the library's real one.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def neighbour(arch: Arch) -> Arch:
    """The same operator shapes with one layer fewer (or more): every tuned task is reused."""
    layers = arch.num_layers - 1 if arch.num_layers > 1 else 2
    return Arch.uniform(layers, arch.hidden_size, arch.num_heads, arch.intermediate_size)


def bench_shape(name: str, arch: Arch, profiler: DeviceProfiler, rounds: int, seq_len: int) -> dict:
    runs = {backend: [] for backend in BACKENDS}
    first_tvm = None
    for round_index in range(rounds):
        for backend in BACKENDS:
            latency = profiler.measure(arch, backend, 1, seq_len)
            runs[backend].append(latency)
            if backend == "tvm" and round_index == 0:
                first_tvm = latency
            print(
                f"  {name} round {round_index + 1} {backend}: {latency.median_ms:.3f} ms (cv {latency.cv:.1%})",
                flush=True,
            )
    # A new architecture is timed as a search times it: under the default protocol.
    bench_protocol, profiler.protocol = profiler.protocol, MeasureProtocol()
    start = time.perf_counter()
    reused = profiler.measure(neighbour(arch), "tvm", 1, seq_len)
    reuse_s = time.perf_counter() - start
    profiler.protocol = bench_protocol
    medians = {b: statistics.median(lat.median_ms for lat in runs[b]) for b in BACKENDS}
    ratios = [t.median_ms / o.median_ms for t, o in zip(runs["tvm"], runs["ort"])]
    ratios_opt = [t.median_ms / o.median_ms for t, o in zip(runs["tvm"], runs["ort-opt"])]
    gflop = arch.encoder_flops(seq_len) / 1e9
    return {
        "shape": name,
        "arch": arch.key,
        "gflop": gflop,
        "median_ms": medians,
        "cv": {b: statistics.median(lat.cv for lat in runs[b]) for b in BACKENDS},
        "tvm_over_ort": statistics.median(ratios),
        "tvm_over_ort_per_round": ratios,
        "tvm_over_ort_opt": statistics.median(ratios_opt),
        "tvm_over_ort_opt_per_round": ratios_opt,
        "ort_opt_over_ort": statistics.median(o.median_ms / p.median_ms for o, p in zip(runs["ort-opt"], runs["ort"])),
        "ort_opt_fused": dict(runs["ort-opt"][0].fused_ops),
        "tvm_over_torch": medians["tvm"] / medians["torch"],
        "gflops": {b: gflop / (medians[b] / 1e3) for b in BACKENDS},
        "tune_s": first_tvm.tune_s,
        "tuned_tasks": first_tvm.tuned_tasks,
        "first_compile_s": first_tvm.compile_s,
        "new_arch_all_shapes_tuned": {
            "arch": reused.arch_key,
            "compile_and_measure_s": reuse_s,
            "compile_s": reused.compile_s,
            "waited_s": reused.waited_s,
            "blocks": len(reused.block_medians_ms),
            "tuned_tasks": reused.tuned_tasks,
            "reused_tasks": reused.reused_tasks,
        },
    }


def markdown(results: list[dict], peak: float, settings: dict) -> str:
    lines = [
        f"TVM {settings['trials_per_task']} MetaSchedule trials/task (a task at most {settings['max_task_share']:g}x that, "
        f"{settings['trials_per_round'] or 'all'} per cost-model round), {settings['threads']} threads, "
        f"batch 1, sequence {settings['seq_len']}, {settings['rounds']} interleaved rounds; "
        f"sgemm peak (numpy 4096^2) {peak:.0f} GFLOP/s.",
        "",
        "| shape | arch | GFLOP | TVM ms | ORT ms | ORT-opt ms | PyTorch ms | TVM/ORT | TVM/ORT-opt | ORT-opt/ORT "
        "| % of peak: TVM, ORT, ORT-opt | tune s | new arch, shapes tuned: s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, share = r["median_ms"], {b: f"{100 * r['gflops'][b] / peak:.0f}%" for b in ("tvm", "ort", "ort-opt")}
        lines.append(
            f"| {r['shape']} | {r['arch']} | {r['gflop']:.2f} | {m['tvm']:.2f} | {m['ort']:.2f} | {m['ort-opt']:.2f} | "
            f"{m['torch']:.2f} | {r['tvm_over_ort']:.2f} | {r['tvm_over_ort_opt']:.2f} | {r['ort_opt_over_ort']:.2f} | "
            f"{share['tvm']}, {share['ort']}, {share['ort-opt']} | {r['tune_s']:.0f} | "
            f"{r['new_arch_all_shapes_tuned']['compile_and_measure_s']:.1f} |"
        )
    fused = {r["shape"]: ", ".join(f"{op} {n}" for op, n in r["ort_opt_fused"].items()) for r in results}
    lines += [
        "",
        "ONNX Runtime's transformer optimizer fused: " + "; ".join(f"{k}: {v}" for k, v in fused.items()) + ".",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"subset of {', '.join(SHAPES)}")
    parser.add_argument(
        "--trials-per-task", type=int, default=TuningSettings().trials_per_task, help="default: a new user's budget"
    )
    parser.add_argument("--max-task-share", type=float, default=1.0, help="see TuningSettings.max_task_share")
    parser.add_argument("--trials-per-round", type=int, default=0, help="see TuningSettings.trials_per_round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "canao-ray-bench"))
    parser.add_argument("--json", type=Path, help="write the figures here as JSON (and a .md beside it)")
    args = parser.parse_args()
    names = [n.strip() for n in args.shapes.split(",")]
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}")

    device = local_cpu(args.threads)
    profiler = DeviceProfiler(
        device,
        args.cache_dir,
        TuningSettings(
            trials_per_task=args.trials_per_task,
            max_task_share=args.max_task_share,
            trials_per_round=args.trials_per_round,
        ),
        MeasureProtocol(warmup=5, repeats=30, min_repeat_ms=50, block_ms=1000),
    )
    peak = sgemm_peak_gflops()
    print(f"sgemm peak: {peak:.0f} GFLOP/s", flush=True)
    settings = {
        "trials_per_task": args.trials_per_task,
        "max_task_share": args.max_task_share,
        "trials_per_round": args.trials_per_round,
        "threads": device.num_threads,
        "seq_len": args.seq_len,
        "rounds": args.rounds,
    }
    results = []
    for name in names:  # written after every shape: BERT-base alone tunes for a long time
        results.append(bench_shape(name, SHAPES[name], profiler, args.rounds, args.seq_len))
        table = markdown(results, peak, settings)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps({"sgemm_peak_gflops": peak, "settings": settings, "results": results}, indent=2)
            )
            args.json.with_suffix(".md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
