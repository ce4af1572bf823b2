"""The remote-device path against the local one: same arch, same machine, interleaved.

Starts a TVM RPC tracker and server on loopback (the local CPU registered under a
device key, as a board would be), then measures one arch alternately through the local
profiler and through the tracker, and prints the RPC/local ratio per round. The remote
device starts from a copy of the local device's tuning database (same CPU, same target),
so both run the same schedules and only the path differs.

    python experiments/bench_rpc.py --arch L4-H256-A4-I1024 --seq-len 128 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from tvm.rpc import server as rpc_server
from tvm.rpc import tracker as rpc_tracker

from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_cpu, rpc_device
from search_spaces import Arch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="L4-H256-A4-I1024")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials-per-task", type=int, default=8)
    parser.add_argument("--cache-dir", default="/tmp/canao-bench-rpc")
    args = parser.parse_args()

    arch = Arch.from_key(args.arch)
    tuning, protocol = TuningSettings(trials_per_task=args.trials_per_task), MeasureProtocol()
    threads = local_cpu().num_threads
    # The server's thread pool must be sized by its environment: `runtime.config_threadpool`
    # called over RPC did not take effect (one thread, 1.63x slower than local).
    os.environ["TVM_NUM_THREADS"] = str(threads)
    tracker = rpc_tracker.Tracker("127.0.0.1", port=9190, port_end=9290, silent=True)
    server = rpc_server.Server(
        "127.0.0.1", port=9300, port_end=9400, key="loopback-cpu", tracker_addr=("127.0.0.1", tracker.port), silent=True
    )
    try:
        local = DeviceProfiler(local_cpu(threads), args.cache_dir, tuning, protocol)
        local.tune(arch, 1, args.seq_len)
        databases = Path(args.cache_dir) / "tvm"
        (databases / "loopback-cpu").mkdir(parents=True, exist_ok=True)
        for database in (databases / "local-cpu").glob("database_*.json"):
            shutil.copy(database, databases / "loopback-cpu" / database.name)
        remote = DeviceProfiler(
            rpc_device("loopback-cpu", f"127.0.0.1:{tracker.port}", "loopback-cpu", threads),
            args.cache_dir,
            tuning,
            protocol,
        )
        ratios = []
        for index in range(args.rounds):
            near = local.measure(arch, "tvm", 1, args.seq_len)
            far = remote.measure(arch, "tvm", 1, args.seq_len)
            ratios.append(far.median_ms / near.median_ms)
            print(
                f"round {index + 1}: local {near.median_ms:.3f} ms, rpc {far.median_ms:.3f} ms, rpc/local {ratios[-1]:.3f}",
                flush=True,
            )
        print(
            f"{arch.key} seq {args.seq_len}: median rpc/local {statistics.median(ratios):.3f} over {args.rounds} rounds"
        )
    finally:
        server.terminate()
        tracker.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
