"""How repeatable a latency is: one arch measured several times, each from scratch.

Each round is a separate ``canao profile --no-cache --json`` process: a new Ray
instance, a new profiler actor, the model compiled again (from the tuning database, so
the same schedules) and measured again under the standard protocol. Nothing is shared
between rounds but the machine and the database, which is what two searches share.
Prints each round's median and the spread: (max - min) / min and the coefficient of
variation of the medians.

    python experiments/bench_repeatability.py --arch L3-H128-A2-I256 --seq-len 32 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def profile_once(arch: str, seq_len: int, backend: str) -> tuple[dict, float]:
    """One ``canao profile`` process: its JSON result and its wall time in seconds."""
    command = [
        sys.executable, "-m", "canao_ray.cli", "profile", "--arch", arch, "--seq-len", str(seq_len),
        "--backend", backend, "--no-cache", "--json",
    ]  # fmt: skip
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="L3-H128-A2-I256")
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--backend", default="tvm")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    warm, _ = profile_once(args.arch, args.seq_len, args.backend)
    print(f"warm-up round (tunes what the database lacks): {warm['tuned_tasks']} tasks tuned", flush=True)
    medians = []
    for index in range(args.rounds):
        result, wall_s = profile_once(args.arch, args.seq_len, args.backend)
        medians.append(result["median_ms"])
        blocks = ", ".join(f"{m:.3f}" for m in result["block_medians_ms"])
        print(
            f"round {index + 1}: median {result['median_ms']:.4f} ms (blocks {blocks}), "
            f"waited {result['waited_s']:.1f} s, compile {result['compile_s']:.1f} s, process {wall_s:.1f} s",
            flush=True,
        )
    spread = (max(medians) - min(medians)) / min(medians)
    cv = statistics.pstdev(medians) / statistics.fmean(medians)
    print(
        f"{args.arch} seq {args.seq_len} {args.backend}: {args.rounds} rounds, "
        f"median of medians {statistics.median(medians):.4f} ms, spread {spread:.1%}, CV {cv:.2%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
