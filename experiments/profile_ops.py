"""Where one architecture's time goes, per operator: TVM's kernels beside ONNX Runtime's nodes.

    python experiments/profile_ops.py --arch L6-H384-A12-I1536 [--seq-len 128] [--runs 20]
        [--cache-dir ~/.cache/canao-ray] [--json out.json]

TVM: the module a profiler times (the device's tuning database applied, nothing tuned
here), run in the relax VM with an instrument that times every kernel call; each kernel
is listed with its calls per run, milliseconds per run and whether the database held a
schedule for it. ONNX Runtime, plain and after its transformer optimizer (``ort-opt``):
its own profiler's per-node times, summed by operator type. Every figure is per model
run, the median over ``--runs`` runs; the instrument's overhead (a few microseconds a
call) is in TVM's per-kernel figures, not in the end-to-end time printed beside them.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from device_profilers import TuningSettings, local_cpu
from device_profilers.export import build_classifier, export_onnx
from device_profilers.onnx_files import graph_inputs
from search_spaces import Arch


def tvm_profile(onnx_path: Path, seq_len: int, cache_dir: str, runs: int) -> dict:
    """Per-kernel milliseconds per run of the TVM module, and the end-to-end time."""
    import tvm
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    from device_profilers.backends.tvm import TvmBackend
    from device_profilers.backends.tvm.lowering import lower

    backend = TvmBackend(local_cpu(), cache_dir, TuningSettings(trials_per_task=0))
    module, _ = lower(onnx_path, 1, seq_len, backend.target, weights_apart=True)
    tuned = {
        task.task_name: backend.tuner.is_tuned(task, backend.target)
        for task in ms.relax_integration.extract_tasks(module, backend.target)
    }
    executable, weights, _ = backend.compile(onnx_path, 1, seq_len, weights_apart=True)
    dev = tvm.cpu()
    vm = relax.VirtualMachine(executable, dev)
    tokens = [tvm.runtime.tensor(np.zeros((1, seq_len), dtype="int64"), dev) for _ in graph_inputs(onnx_path)]
    prepacked = vm["main_transform_params"]([tvm.runtime.tensor(w, dev) for w in weights])
    vm.set_input("main", *tokens, *prepacked)
    for _ in range(5):
        vm.invoke_stateful("main")
    end_to_end = []
    for _ in range(runs):
        start = time.perf_counter()
        vm.invoke_stateful("main")
        end_to_end.append((time.perf_counter() - start) * 1e3)

    per_run: list[collections.Counter] = []
    calls: collections.Counter = collections.Counter()
    started: dict[str, float] = {}

    def instrument(func, symbol, before, ret, *args):
        now = time.perf_counter()
        if before:
            started[symbol] = now
        else:
            per_run[-1][symbol] += (now - started.pop(symbol)) * 1e3
            if len(per_run) == 1:
                calls[symbol] += 1
        return 0  # VMInstrumentReturnKind.NO_OP: run the call as usual

    vm.set_instrument(instrument)
    for _ in range(runs):
        per_run.append(collections.Counter())
        vm.invoke_stateful("main")
    kernels = {
        name: {
            "ms": statistics.median(run[name] for run in per_run),
            "calls": calls[name],
            "tuned": tuned.get(_task_name(name)),
        }
        for name in calls
        if not name.startswith("vm.builtin")
    }
    return {"end_to_end_ms": statistics.median(end_to_end), "kernels": kernels}


def _task_name(kernel: str) -> str:
    """The MetaSchedule task a kernel came from: a tuned matmul whose weight is prepacked
    at load time is split into ``<task>_prepacked`` and ``<task>_weight_prepack``."""
    return kernel.removesuffix("_prepacked").removesuffix("_weight_prepack")


def ort_profile(onnx_path: Path, seq_len: int, runs: int, optimized: bool) -> dict:
    """Milliseconds per run by operator type from ONNX Runtime's own profiler."""
    import onnxruntime as ort

    from device_profilers.backends.ort_fusion import optimize_for_ort

    path = onnx_path
    if optimized:
        path = onnx_path.with_name("optimized.onnx")
        optimize_for_ort(onnx_path, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = local_cpu().num_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(onnx_path.with_name("ort_profile_opt" if optimized else "ort_profile"))
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros((1, seq_len), dtype=np.int64) for i in session.get_inputs()}
    for _ in range(5):
        session.run(None, feeds)
    end_to_end = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        end_to_end.append((time.perf_counter() - start) * 1e3)
    events = json.loads(Path(session.end_profiling()).read_text())
    by_op: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"] / 1e3
    total_runs = 5 + runs
    return {
        "end_to_end_ms": statistics.median(end_to_end),
        "ops": {op: ms / total_runs for op, ms in by_op.most_common()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=Arch.from_key, default=Arch.uniform(6, 384, 12, 1536))
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "canao-ray"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-ops-") as tmp:
        onnx_path = export_onnx(build_classifier(args.arch, args.seq_len), Path(tmp) / "model.onnx", 1, args.seq_len)
        result = {
            "arch": args.arch.key,
            "seq_len": args.seq_len,
            "tvm": tvm_profile(onnx_path, args.seq_len, args.cache_dir, args.runs),
            "ort": ort_profile(onnx_path, args.seq_len, args.runs, optimized=False),
            "ort-opt": ort_profile(onnx_path, args.seq_len, args.runs, optimized=True),
        }
    tvm_result = result["tvm"]
    print(f"{args.arch.key}, batch 1, sequence {args.seq_len}; ms per run (median of {args.runs})")
    print(f"\nTVM end to end {tvm_result['end_to_end_ms']:.2f} ms; kernels:")
    kernels = sorted(tvm_result["kernels"].items(), key=lambda item: -item[1]["ms"])
    total = sum(k["ms"] for _, k in kernels)
    for name, k in kernels:
        state = {True: "tuned", False: "default", None: "-"}[k["tuned"]]
        print(f"  {k['ms']:8.3f} ms {100 * k['ms'] / total:5.1f}%  x{k['calls']:<3} {state:<7} {name}")
    for backend in ("ort", "ort-opt"):
        ops = result[backend]["ops"]
        print(f"\n{backend} end to end {result[backend]['end_to_end_ms']:.2f} ms; by operator type:")
        for op, ms in ops.items():
            print(f"  {ms:8.3f} ms {100 * ms / sum(ops.values()):5.1f}%  {op}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
