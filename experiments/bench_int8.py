"""int8 against fp32: latency of the quantized model beside the float one, and a bundle's accuracy in both.

    python experiments/bench_int8.py [--shapes minilm-l6,l5-h384] [--also ARCH_KEY] [--rounds 3] \\
        [--bundle RUN_DIR/final/ARCH_KEY] [--json experiments/results/bench_int8.json]

Latency: every shape in fp32 and int8 (``Arch.precision``; the graph quantized by ONNX
Runtime's dynamic quantization, ``device_profilers.export.quantize_int8``), each timed by
TVM, plain ONNX Runtime and ONNX Runtime after its transformer optimizer, interleaved over
``--rounds`` rounds on one profiler, batch 1, sequence 128; the ratios are per round, then
their median. Nothing is tuned (the default budget: the rules schedule every kernel).

Accuracy (``--bundle``): the finalized fp32 bundle's model rebuilt as an int8 bundle
beside it (``<bundle>-int8``, written by the same code ``canao finalize`` uses for an int8
Arch; the task data is read as the run's ``config.yaml`` says), and both bundles' dev
metrics printed: the ONNX file's under ONNX Runtime (PyTorch's is the float model's in
both), with how far TVM's module is from it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench_compiler import SHAPES
from provenance import commit

from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_cpu
from device_profilers.files import write_atomic
from search_spaces import Arch

BACKENDS = ("tvm", "ort", "ort-opt")


def bench_latency(archs: dict[str, Arch], profiler: DeviceProfiler, rounds: int, seq_len: int) -> list[dict]:
    """Per shape: median ms of each (precision, backend), and the per-round ratios."""
    results = []
    for name, arch in archs.items():
        runs: dict[tuple[str, str], list[float]] = {}
        for round_index in range(rounds):
            for precision in ("fp32", "int8"):
                for backend in BACKENDS:
                    latency = profiler.measure(arch.with_precision(precision), backend, 1, seq_len)
                    runs.setdefault((precision, backend), []).append(latency.median_ms)
                    print(
                        f"  {name} round {round_index + 1} {precision} {backend}: {latency.median_ms:.3f} ms",
                        flush=True,
                    )

        results.append(
            {
                "shape": name,
                "arch": arch.key,
                "median_ms": {f"{p} {b}": statistics.median(ms) for (p, b), ms in runs.items()},
                "tvm_int8_over_tvm_fp32": _ratio(runs, ("int8", "tvm"), ("fp32", "tvm")),
                "tvm_int8_over_ort_int8": _ratio(runs, ("int8", "tvm"), ("int8", "ort")),
                "tvm_int8_over_ort_opt_int8": _ratio(runs, ("int8", "tvm"), ("int8", "ort-opt")),
                "ort_int8_over_ort_fp32": _ratio(runs, ("int8", "ort"), ("fp32", "ort")),
            }
        )
    return results


def _ratio(runs: dict, a: tuple[str, str], b: tuple[str, str]) -> float:
    """The median over rounds of ``a``'s time over ``b``'s."""
    return statistics.median(x / y for x, y in zip(runs[a], runs[b]))


def int8_bundle(bundle: Path) -> dict:
    """Write ``<bundle>-int8`` from the fp32 bundle's model and return both bundles' metrics."""
    from canao_ray import SearchConfig
    from canao_ray.data import load_task
    from canao_ray.deploy import load_model, write_bundle

    run_dir = bundle.parent.parent
    config = SearchConfig.from_yaml(run_dir / "config.yaml")
    description = json.loads((bundle / "canao.json").read_text())
    arch = Arch.from_dict(description["arch"]).with_precision("int8")
    data = load_task(config.task.model_copy(update={"num_train": 1}), config.teacher)
    fp32 = json.loads((bundle / "metrics.json").read_text())
    metrics = write_bundle(
        bundle.with_name(f"{bundle.name}-int8"),
        load_model(bundle),
        arch,
        data,
        fp32["pytorch"],
        config.latency.make_device(),
        config.resolved_cache_dir(),
        config.latency.tuning,
        {},
        {**description["trained_on"], "quantized_from": str(bundle)},
    )
    return {"fp32": fp32, "int8": metrics}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="minilm-l6,l5-h384", help=f"subset of {', '.join(SHAPES)}")
    parser.add_argument("--also", action="append", default=[], help="an Arch key to time too")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "canao-ray-bench"))
    parser.add_argument("--bundle", type=Path, help="a finalized fp32 bundle (RUN_DIR/final/ARCH_KEY)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    archs = {name: SHAPES[name] for name in args.shapes.split(",") if name}
    archs.update({key: Arch.from_key(key) for key in args.also})
    report: dict = {"commit": commit()}
    if args.bundle is not None:
        report["accuracy"] = int8_bundle(args.bundle)
        for precision, metrics in report["accuracy"].items():
            print(f"{precision}: {json.dumps(metrics)}", flush=True)
    profiler = DeviceProfiler(
        local_cpu(),
        args.cache_dir,
        TuningSettings(),
        MeasureProtocol(warmup=5, repeats=30, min_repeat_ms=50, block_ms=1000),
    )
    report["latency"] = bench_latency(archs, profiler, args.rounds, args.seq_len)
    for row in report["latency"]:
        ms = row["median_ms"]
        print(
            f"{row['shape']} {row['arch']}: TVM fp32 {ms['fp32 tvm']:.2f} ms, TVM int8 {ms['int8 tvm']:.2f} ms, "
            f"ORT int8 {ms['int8 ort']:.2f} ms, ORT-opt int8 {ms['int8 ort-opt']:.2f} ms; "
            f"TVM int8/TVM fp32 {row['tvm_int8_over_tvm_fp32']:.2f}, TVM int8/ORT int8 {row['tvm_int8_over_ort_int8']:.2f}, "
            f"TVM int8/ORT-opt int8 {row['tvm_int8_over_ort_opt_int8']:.2f}"
        )
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
