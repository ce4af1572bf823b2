"""How long a search waits for the latency of a new architecture whose operator shapes are
all known (compiled, and tuned where tuning applies), and what the default protocol's
shorter blocks cost in precision.

1. For L3-H256 and BERT-base-L11 (sequence 128, batch 1): a neighbour with the same
   shapes (one layer more) is measured first, then the architecture itself, timed from
   the call to the returned latency: writing the graph, lowering, compiling, loading,
   waiting for quiet cores and timing, under the default ``MeasureProtocol``.
2. BERT-base-L11 measured in interleaved rounds under the default protocol and under the
   one before 2026-12-06 (blocks of about a second, five warm-up runs): the medians each
   reads, and the seconds each takes.

    python experiments/bench_new_arch.py --json experiments/results/bench_new_arch.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_cpu
from search_spaces import Arch

PAIRS = {
    "L3-H256": (Arch.uniform(4, 256, 4, 1024), Arch.uniform(3, 256, 4, 1024)),
    "BERT-base-L11": (Arch.uniform(12, 768, 12, 3072), Arch.uniform(11, 768, 12, 3072)),
}
#: The default protocol before 2026-12-06, for the comparison.
EARLIER = MeasureProtocol(block_ms=1000, warmup_ms=1_000_000)


def timed(profiler: DeviceProfiler, arch: Arch, seq_len: int):
    start = time.perf_counter()
    latency = profiler.measure(arch, "tvm", 1, seq_len)
    return latency, time.perf_counter() - start


def new_arch(profiler: DeviceProfiler, seq_len: int) -> dict:
    results = {}
    for name, (neighbour, arch) in PAIRS.items():
        first, first_s = timed(profiler, neighbour, seq_len)
        latency, seconds = timed(profiler, arch, seq_len)
        results[name] = {
            "arch": arch.key,
            "neighbour": neighbour.key,
            "neighbour_s": first_s,
            "compile_and_measure_s": seconds,
            "compile_s": latency.compile_s,
            "waited_s": latency.waited_s,
            "tune_s": latency.tune_s,
            "blocks": len(latency.block_medians_ms),
            "repeats": latency.repeats,
            "median_ms": latency.median_ms,
        }
        print(
            f"{arch.key}: compile + measure {seconds:.2f} s (compile {latency.compile_s:.2f} s, quiet-core waits "
            f"{latency.waited_s:.2f} s, {len(latency.block_medians_ms)} blocks of {latency.repeats}, "
            f"median {latency.median_ms:.2f} ms; tuned {first.tuned_tasks} task(s) for {neighbour.key} first, "
            f"{first_s:.1f} s)",
            flush=True,
        )
    return results


def protocols(profiler: DeviceProfiler, arch: Arch, seq_len: int, rounds: int) -> dict:
    runs: dict[str, list[tuple[float, float]]] = {"default": [], "earlier": []}
    default = profiler.protocol
    for index in range(rounds):
        for name, protocol in (("default", default), ("earlier", EARLIER)):
            profiler.protocol = protocol
            latency, seconds = timed(profiler, arch, seq_len)
            runs[name].append((latency.median_ms, seconds))
            print(f"  round {index + 1} {name}: {latency.median_ms:.2f} ms in {seconds:.1f} s", flush=True)
    profiler.protocol = default
    summary = {}
    for name, values in runs.items():
        medians = [m for m, _ in values]
        summary[name] = {
            "median_ms": statistics.median(medians),
            "spread": max(medians) / min(medians) - 1,
            "seconds": statistics.median(s for _, s in values),
            "rounds": values,
        }
        print(
            f"{arch.key} {name} protocol: median {summary[name]['median_ms']:.2f} ms, spread over rounds "
            f"{summary[name]['spread']:.1%}, {summary[name]['seconds']:.1f} s a measurement",
            flush=True,
        )
    ratio = summary["default"]["median_ms"] / summary["earlier"]["median_ms"]
    print(f"default / earlier median: {ratio:.3f}")
    return {**summary, "default_over_earlier": ratio}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", help="tuning database (default: a new, empty one)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the protocol comparison")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canao-new-arch-") as scratch:
        profiler = DeviceProfiler(local_cpu(), args.cache_dir or scratch, TuningSettings(), MeasureProtocol())
        figures = {
            "new_arch": new_arch(profiler, args.seq_len),
            "protocols": protocols(profiler, PAIRS["BERT-base-L11"][1], args.seq_len, args.rounds),
        }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
