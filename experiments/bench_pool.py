"""Measurement throughput of a device pool: two replicas of one device against one.

    python experiments/bench_pool.py [--archs 24] [--seq-len 32] [--json experiments/results/bench_pool.json]

Starts a TVM RPC tracker and two RPC servers on loopback under one key, each timing with
one thread (two identical boards, as a lab's farm registers them), then, in one run,
measures the same distinct architectures through a broker whose device has one replica
and through one whose device has two: every request sent at once, as a search's trials
send them, once every replica's process is warm (the pool's calibration, printed apart,
and one model per replica, in both pools alike). Prints measurements per minute of each and their ratio, checks that no
request was lost and that no two timings of one replica overlapped. Nothing is cached or
tuned, so every request exports, compiles and times its model.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import ray
from provenance import commit
from tvm.rpc import server as rpc_server
from tvm.rpc import tracker as rpc_tracker

from device_profilers import MeasureProtocol, TuningSettings, rpc_device, running_broker
from device_profilers.files import scratch_dir, write_atomic
from device_profilers.latency import MeasureTarget
from device_profilers.measurement.sync_probe import busy_cpu_seconds
from search_spaces import Arch

KEY = "loopback-board"


def distinct_archs(count: int) -> list[Arch]:
    """``count`` small architectures, no two alike."""
    grid = itertools.product((1, 2, 3, 4), (64, 128, 256), (2, 4), (2, 4))
    return [Arch.uniform(n, h, a, r * h) for n, h, a, r in itertools.islice(grid, count)]


def run_pool(tracker: str, replicas: int, archs: list[Arch], seq_len: int) -> dict:
    """Every arch measured at once through a pool of ``replicas``; throughput and checks."""
    device = rpc_device("boards", tracker, KEY, num_threads=1, replicas=replicas)
    protocol = MeasureProtocol()  # what a search uses
    target = MeasureTarget("boards", "tvm", 1, seq_len)
    with scratch_dir() as cache, running_broker([device], cache, TuningSettings(), protocol, use_cache=False) as broker:
        # A pool times its calibration architecture on every replica as it starts: a start-up
        # cost, not part of its throughput (it is reported apart).
        calibration_start = time.perf_counter()
        calibration = ray.get(broker.calibration.remote(device.name))
        calibration_s = time.perf_counter() - calibration_start
        # Every replica's process warm (imports, first compile) before the clock starts, in
        # both pools alike: one model each, not among the timed ones.
        warm_up = [Arch.uniform(1, 32, 2, 64 * (index + 1)) for index in range(replicas)]
        ray.get([broker.measure.remote(arch, target) for arch in warm_up])
        start, busy_before = time.perf_counter(), busy_cpu_seconds()
        latencies = ray.get([broker.measure.remote(arch, target) for arch in archs])
        wall_s, busy_s = time.perf_counter() - start, busy_cpu_seconds() - busy_before
    overlaps = 0
    for replica in range(replicas):
        spans = sorted((lat.started_at, lat.measured_at) for lat in latencies if lat.replica == replica)
        overlaps += sum(end > next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    return {
        "replicas": replicas,
        "measured": len(latencies),
        "lost": len(archs) - len({lat.arch_key for lat in latencies}),
        "by_replica": [sum(lat.replica == r for lat in latencies) for r in range(replicas)],
        "overlapping_timings": overlaps,
        "wall_s": wall_s,
        "per_minute": 60 * len(latencies) / wall_s,
        # Cores the whole machine kept busy on average (compiling, timing, Ray): what bounds the ratio here.
        "cores_busy": busy_s / wall_s,
        "calibration_s": calibration_s,
        "calibration": calibration,
        # Where a measurement's time goes, averaged: export and compile, then the rest (upload, timing).
        "mean_compile_s": sum(lat.compile_s for lat in latencies) / len(latencies),
        "mean_request_s": sum(lat.measured_at - lat.started_at for lat in latencies) / len(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--json", type=str)
    args = parser.parse_args()
    os.environ["TVM_NUM_THREADS"] = "1"  # each server's runtime: one thread, set before it starts
    tracker = rpc_tracker.Tracker("127.0.0.1", port=9190, port_end=9290, silent=True)
    servers = [
        rpc_server.Server(
            "127.0.0.1", port=9300, port_end=9400, key=KEY, tracker_addr=("127.0.0.1", tracker.port), silent=True
        )
        for _ in range(2)
    ]
    address = f"127.0.0.1:{tracker.port}"
    archs = distinct_archs(args.archs)
    try:
        ray.init(include_dashboard=False, log_to_driver=False)
        runs = [run_pool(address, replicas, archs, args.seq_len) for replicas in (1, 2)]
    finally:
        for server in servers:
            server.terminate()
        tracker.terminate()
    for run in runs:
        print(
            f"{run['replicas']} replica(s): {run['measured']} measured in {run['wall_s']:.1f} s, "
            f"{run['per_minute']:.1f} per minute, by replica {run['by_replica']}, lost {run['lost']}, "
            f"overlapping timings {run['overlapping_timings']}; a measurement: {run['mean_request_s']:.2f} s, "
            f"of which compiling {run['mean_compile_s']:.2f} s; cores busy on average {run['cores_busy']:.2f} "
            f"of {os.cpu_count()}; calibration at start {run['calibration_s']:.1f} s"
        )
    ratio = runs[1]["per_minute"] / runs[0]["per_minute"]
    print(f"throughput, 2 replicas over 1: {ratio:.2f}x")
    if args.json:
        write_atomic(args.json, json.dumps({"commit": commit(), "runs": runs, "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
