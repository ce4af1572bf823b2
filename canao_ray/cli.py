"""The ``canao`` command: search, resume, tune, finalize, verify, profile."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml
from pydantic import ValidationError

from device_profilers import BACKENDS

from .config import ConfigError, LatencySettings, SearchConfig
from .config.errors import config_error
from .objectives import MB


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canao", description="Compiler-aware architecture search on Ray Tune.")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="run a search (no arguments: the embedded quickstart)")
    search.add_argument("--config", type=Path, help="YAML config file (default: the embedded quickstart)")
    search.add_argument("--out", type=Path, help="run directory (default: canao_runs/<name>-<time>)")
    search.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="finish the interrupted search of this run directory (with its own config)",
    )
    search.add_argument(
        "--address", help="join this Ray cluster (e.g. head-node:6379 or auto) instead of starting Ray here"
    )
    tune = commands.add_parser("tune", help="pre-tune every operator shape of a search space (resumable)")
    tune.add_argument("--config", type=Path, help="YAML config file (default: the embedded quickstart)")
    finalize = commands.add_parser("finalize", help="train chosen Pareto architectures of a run fully and bundle them")
    finalize.add_argument("run_dir", type=Path, help="directory of a finished 'canao search'")
    finalize.add_argument(
        "--arch", action="append", help="architecture to finalize (key or JSON; repeatable; default: the front's best)"
    )
    verify = commands.add_parser("verify", help="check that a run directory is whole and its records agree")
    verify.add_argument("run_dir", type=Path, help="directory of a 'canao search' (finished or interrupted)")
    profile = commands.add_parser("profile", help="latency of one architecture on a device")
    profile.add_argument(
        "--arch",
        required=True,
        help="JSON like '{\"num_layers\": 4, ...}' or a key like L4-H256-A4-I1024 or L2-H384-D32-A12.8-I1536.768",
    )
    profile.add_argument("--device", default="local-cpu", help="device name (default: local-cpu)")
    profile.add_argument("--backend", default="tvm", help=f"one or several of {', '.join(BACKENDS)}, comma-separated")
    profile.add_argument("--seq-len", type=int, default=128, help="sequence length (default 128)")
    profile.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    profile.add_argument(
        "--threads", type=int, help="threads the device runs with (default: all local cores; 4 remote)"
    )
    profile.add_argument(
        "--rpc-tracker", metavar="HOST:PORT", help="measure on a remote device through this TVM RPC tracker"
    )
    profile.add_argument("--rpc-key", help="the device key the remote device registered with (default: --device)")
    profile.add_argument("--target", help="TVM target of a remote device as JSON (default: this machine's CPU)")
    profile.add_argument("--cc", help="cross compiler that links libraries for a remote device")
    profile.add_argument(
        "--replicas", type=int, default=1, help="identical boards behind --rpc-key: each is timed and compared"
    )
    profile.add_argument("--trials-per-task", type=int, help="MetaSchedule trials for each new operator shape")
    profile.add_argument(
        "--protocol", help="measurement protocol fields to change, as YAML, e.g. '{blocks: 2, quiet_wait_s: 0}'"
    )
    profile.add_argument("--no-cache", action="store_true", help="measure again even if the latency is cached")
    profile.add_argument("--json", action="store_true", help="print one JSON object per backend instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "search" and args.resume and (args.config or args.out):
        parser.error("--resume takes the run's own config and directory: drop --config and --out")
    try:
        return _run(args)
    except ConfigError as error:
        print(f"canao: error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "profile":
        return _profile(args)
    if args.command == "finalize":
        return _finalize(args)
    if args.command == "verify":
        return _verify(args.run_dir)
    if args.command == "search" and args.resume:
        from .search import resume_search

        run_dir = resume_search(args.resume, args.address)
    else:
        config = SearchConfig.from_yaml(args.config) if args.config else SearchConfig()
        if args.command == "tune":
            return _tune(config)
        from .search import run_search

        out = args.out or Path("canao_runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = run_search(config, out, args.address)
    print(f"canao: run directory {run_dir}")
    return 0


def _verify(run_dir: Path) -> int:
    """Prints what was checked, then each note and problem; exit 1 if there is a problem."""
    from .results import verify_run

    if not run_dir.is_dir():
        raise ConfigError(f"{str(run_dir)!r} is not a directory: give the run directory of a 'canao search'")
    verdict = verify_run(run_dir)
    for line in verdict.summary:
        print(f"canao verify: {line}")
    for note in verdict.notes:
        print(f"canao verify: note: {note}")
    for problem in verdict.problems:
        print(f"canao verify: problem: {problem}", file=sys.stderr)
    print(f"canao verify: {run_dir}: " + ("consistent" if verdict.ok else f"{len(verdict.problems)} problem(s)"))
    return 0 if verdict.ok else 1


def _parse_arch(text: str):
    from search_spaces import Arch

    try:
        return Arch.parse(text)
    except ValueError as error:
        raise ConfigError(f"--arch: {error}; give a JSON object with the Arch fields or a key") from None


def _finalize(args: argparse.Namespace) -> int:
    from .deploy import finalize_run

    rows = finalize_run(args.run_dir, [_parse_arch(text) for text in args.arch] if args.arch else None)
    for row in rows:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in row["metrics"]["onnxruntime"].items())
        print(f"canao: {row['arch_key']}: {scores}; tvm {row['latency_ms']['tvm']:.3f} ms; bundle {row['bundle']}")
    return 0


def _tune(config: SearchConfig) -> int:
    from .search import pretune

    totals = pretune(config)
    print(
        f"canao: {totals['shapes']} layer shapes: {totals['tuned_tasks']} tasks tuned in "
        f"{totals['tune_s']:.0f} s, {totals['reused_tasks']} already in the database"
    )
    return 0


def _latency_settings(args: argparse.Namespace) -> LatencySettings:
    """``canao profile``'s flags as the latency section of a config, checked as a config is."""
    for flag in ("seq_len", "batch", "threads", "trials_per_task"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "trials_per_task" else 1):
            raise ConfigError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    values: dict = {"device": args.device, "num_threads": args.threads, "replicas": args.replicas}
    try:
        if args.rpc_tracker:
            target = json.loads(args.target) if args.target else None
            rpc = {"tracker": args.rpc_tracker, "key": args.rpc_key or args.device, "num_threads": args.threads or 4}
            values["rpc"] = {**rpc, "target": target, "cc": args.cc}
        if args.trials_per_task is not None:
            values["tuning"] = {"trials_per_task": args.trials_per_task}
        if args.protocol:
            values["protocol"] = yaml.safe_load(args.protocol)
        return LatencySettings.model_validate(values)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--target is not valid JSON ({error.msg}); give a TVM target dict") from None
    except yaml.YAMLError:
        raise ConfigError("--protocol is not valid YAML; give a mapping such as '{blocks: 2}'") from None
    except ValidationError as error:
        raise config_error(LatencySettings, error) from None


def _profile(args: argparse.Namespace) -> int:
    from device_profilers import check_backend, profile_arch

    settings, arch = _latency_settings(args), _parse_arch(args.arch)
    device = settings.make_device()
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    try:
        for backend in backends:
            check_backend(backend, remote=device.rpc is not None)
    except ValueError as error:
        raise ConfigError(f"--backend: {error}") from None
    if device.rpc is not None:
        try:
            device.rpc.check_reachable()
        except ConnectionError as error:
            raise ConfigError(f"--rpc-tracker: {error}") from None
    latencies = profile_arch(
        arch,
        device,
        backends,
        batch=args.batch,
        seq_len=args.seq_len,
        cache_dir=SearchConfig().resolved_cache_dir(),
        tuning=settings.tuning,
        protocol=settings.protocol,
        use_cache=not args.no_cache,
    )
    replicas = _replicas(device, settings) if device.replicas > 1 else []
    if args.json:
        for latency in latencies:
            print(json.dumps(latency.to_dict()))
        for replica in replicas:
            print(json.dumps({"calibration": replica}))
        return 0
    print(
        f"{'arch':<20} {'device':<10} {'backend':<8} {'batch':>5} {'seq':>5} {'median ms':>10} {'p90 ms':>9} {'cv %':>6} "
        f"{'compile s':>10} {'tune s':>8} {'file MB':>8} {'peak MB':>8}"
    )
    for lat in latencies:
        print(
            f"{lat.arch_key:<20} {lat.device:<10} {lat.backend:<8} {lat.batch:>5} {lat.seq_len:>5} "
            f"{lat.median_ms:>10.3f} {lat.p90_ms:>9.3f} {100 * lat.cv:>6.2f} {lat.compile_s:>10.1f} {lat.tune_s:>8.1f} "
            f"{_megabytes(lat.model_bytes):>8} {_megabytes(lat.peak_memory_bytes):>8}"
            + ("  (cached)" if lat.cached else "")
            + ("  fused: " + ", ".join(f"{op} {n}" for op, n in lat.fused_ops) if lat.fused_ops else "")
        )
    for row in replicas:
        off = abs(row["ratio"] - 1) > settings.replica_tolerance
        print(
            f"replica {row['replica']} (node {row['node'][:12] or '-'}): calibration {row['median_ms']:.3f} ms, "
            f"{row['ratio']:.3f}x the pool's median" + ("  OFF THE POOL" if off else "")
        )
    return 0


def _megabytes(size: int) -> str:
    """A size in MB for the table; "-" where the backend did not say."""
    return f"{size / MB:.2f}" if size else "-"


def _replicas(device, settings: LatencySettings) -> list[dict]:
    """Each replica's calibration time and ratio to the pool's median (``calibrate_replicas``)."""
    from device_profilers import calibrate_replicas

    return calibrate_replicas(device, SearchConfig().resolved_cache_dir(), settings.tuning, settings.protocol)


if __name__ == "__main__":
    sys.exit(main())
