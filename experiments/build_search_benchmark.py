"""Build the fixed benchmark objective of bench_search.py: every arch of a grid, trained
and measured once, stored in the repo.

    python experiments/build_search_benchmark.py [--epochs 8] [--phases latency,train] [--jobs 2] [--out experiments/results/search_benchmark.json]
    python experiments/build_search_benchmark.py --epochs 16 --space "{num_heads: [1, 2, 3, 4]}" --rows-from TABLE_OF_THE_NARROWER_GRID --out ...
    python experiments/build_search_benchmark.py --config experiments/canao_sst2.yaml --space '{num_layers: [1, 2, 3, 4, 5, 6]}' --epochs 6 --out ...

For each architecture of the grid (by default the embedded task's default space, widened
to six layers, trained from scratch; with ``--config``, a canao config's task, teacher,
training and space, so a table can also be built for a GLUE task whose candidates
inherit from and are distilled by the teacher, as CANAO's are): its TVM latency on this
CPU (tuned, the standard protocol, measured before any training starts so nothing else
runs), then its dev score after each of ``epochs`` epochs of training, from one seed.
Samplers and schedulers are then compared on this table in seconds instead of hours
(``bench_search.py``). Writes the JSON as it goes, so an interrupted build resumes where
it stopped. The two phases fill their own columns and can run apart (``--phases``):
training needs no quiet machine, timing does. Training runs ``--jobs`` architectures at
once, one process of ``--train-threads`` threads (1) each, largest first.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml
from provenance import commit

HERE = Path(__file__).resolve().parent
GRID = {"num_layers": [1, 2, 3, 4, 5, 6], "num_heads": [2, 4], "head_dim": [16, 32, 64], "ffn_ratio": [2, 4]}


def save(path: Path, table: dict) -> None:
    from device_profilers.files import write_atomic

    write_atomic(path, json.dumps(table, indent=1))


def copy_rows(source: Path, table: dict, keys: set[str], columns: tuple[str, ...]) -> int:
    """Fill the missing ``columns`` of ``table``'s rows whose arch key is in ``keys`` from
    ``source``, a table of the same task and device on any grid; returns how many rows
    gained something. Latency does not depend on how a row was trained; scores need the
    same training settings."""
    other = json.loads(source.read_text())
    if (other["task"], other["device"]) != (table["task"], table["device"]):
        raise SystemExit(f"{source}: another task or device; its rows do not apply here")
    if "scores" in columns and _training(other["settings"]) != _training(table["settings"]):
        raise SystemExit(f"{source}: trained with other settings; take only its latencies with --latency-from")
    copied = 0
    for key in keys & other["rows"].keys():
        row, mine = other["rows"][key], table["rows"].setdefault(key, {"arch": other["rows"][key]["arch"]})
        new = {c: row[c] for c in columns if c in row and c not in mine}
        mine.update(new)
        copied += bool(new)
    return copied


def _training(settings: dict) -> dict:
    """A table's settings but its grid: what its scores depend on."""
    return {name: value for name, value in settings.items() if name != "grid"}


def train_scores(arch: dict, config, teacher_dir: str | None, threads: int) -> tuple[list[float], float]:
    """Dev score after each epoch of training ``arch`` as ``config`` says, and the seconds it
    took (run in a worker process; the same seed, hence the same scores, in any process)."""
    import torch

    from canao_ray.data import load_task
    from canao_ray.teacher import build_student
    from canao_ray.training import Trainer
    from search_spaces import Arch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    data = load_task(config.task, config.teacher)
    model, loss = build_student(Arch.from_dict(arch), data, config, teacher_dir)
    trainer = Trainer(model, data, config.training, loss)
    scores = []
    for _ in range(config.training.epochs):
        trainer.epoch()
        scores.append(trainer.evaluate()["score"])
    return scores, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", type=Path,
        help="a canao config (YAML) whose task, teacher, training and space the table uses; default: the embedded task on the grid above",
    )  # fmt: skip
    parser.add_argument(
        "--space",
        type=yaml.safe_load,
        default={},
        help="space entries to replace (in the grid above, or the config's), as YAML",
    )
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument(
        "--num-dev", type=int,
        help="dev examples scored after each epoch (default: the embedded task's 600, a standard error of about 2 points)",
    )  # fmt: skip
    parser.add_argument(
        "--learning-rate", type=float,
        help="default: the config's with --config, else 1e-4 (the stored tables were trained at 1e-4)",
    )  # fmt: skip
    parser.add_argument(
        "--trials-per-task",
        type=int,
        help="MetaSchedule trials per task (default: the config's with --config, else 16)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "search_benchmark.json")
    parser.add_argument("--phases", default="latency,train", help="latency, train, or both (the default)")
    parser.add_argument(
        "--latency-from", type=Path,
        help="take the latencies of this table's archs (same task and device, any grid), e.g. to retrain at another learning rate",
    )  # fmt: skip
    parser.add_argument(
        "--rows-from", type=Path,
        help="take the latencies and scores of this table's archs (same task, device and training, any grid), e.g. to widen a grid",
    )  # fmt: skip
    parser.add_argument("--train-threads", type=int, default=1, help="torch threads per training process")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="architectures trained at once, one process each"
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    if not phases or phases - {"latency", "train"}:
        parser.error(f"--phases: give latency, train or both, got {args.phases!r}")

    import ray

    from canao_ray import SearchConfig
    from canao_ray.teacher import prepare_teacher
    from device_profilers import measure_latency, running_broker

    if args.config:
        values = SearchConfig.from_yaml(args.config).to_dict()
        values["space"].update(args.space)
        values["task"].update(num_train=args.num_train, **({"num_dev": args.num_dev} if args.num_dev else {}))
        values["training"].update(
            epochs=args.epochs, **({"learning_rate": args.learning_rate} if args.learning_rate else {})
        )
        if args.trials_per_task:
            values["latency"]["tuning"]["trials_per_task"] = args.trials_per_task
    else:
        values = {
            "name": "search-benchmark",
            "task": {"num_train": args.num_train, "num_dev": args.num_dev},
            "space": {**GRID, **args.space},
            "training": {"epochs": args.epochs, "learning_rate": args.learning_rate or 1e-4},
            "latency": {"tuning": {"trials_per_task": args.trials_per_task or 16}},
        }
    config = SearchConfig.from_dict(values)
    space = config.space
    grid = {name: list(getattr(space, name)) for name in GRID}
    # A table built with other settings is not resumed: its rows would not compare.
    settings = {
        "grid": grid,
        "epochs": args.epochs,
        "num_train": args.num_train,
        "training": config.training.identity(),
    }
    if args.num_dev:  # left out when unset, as the stored table was built before the option
        settings["num_dev"] = args.num_dev
    if config.teacher:
        settings["task"] = config.task.name
        settings["teacher"] = {"model": config.teacher.model, "finetune": config.teacher.finetune.identity()}
    table = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if table.get("settings") != settings:
        table = {"settings": settings, "rows": {}}
    table.update(
        commit=commit(),
        command="python experiments/build_search_benchmark.py " + shlex.join(sys.argv[1:]),
        task=(
            f"{config.task.name} (seq_len {config.task.seq_len}; inherited from and distilled by {config.teacher.model})"
            if config.teacher
            else f"embedded (generated; seq_len {config.task.seq_len})"
        ),
        device="local-cpu, TVM, batch 1",
    )
    rows = table["rows"]
    lat = config.latency
    device = lat.make_device()
    keys = {arch.key for arch in space.archs()}
    for source, columns in (
        (args.latency_from, ("latency_ms",)),
        (args.rows_from, ("latency_ms", "scores", "train_s")),
    ):
        if source:
            copied = copy_rows(source, table, keys, columns)
            save(args.out, table)  # also when no row is left to measure or train
            print(f"{', '.join(columns)} of {copied} architectures taken from {source}", flush=True)

    if "latency" in phases:
        ray.init(include_dashboard=False, log_to_driver=False)
        with running_broker([device], str(config.resolved_cache_dir()), lat.tuning, lat.protocol, lat.use_cache):
            for arch in space.archs():
                row = rows.setdefault(arch.key, {"arch": arch.to_dict()})
                if "latency_ms" not in row:
                    row["latency_ms"] = measure_latency(
                        arch, device.name, "tvm", lat.batch, config.task.seq_len
                    ).median_ms
                    save(args.out, table)
                    print(f"{arch.key}: {row['latency_ms']:.4f} ms", flush=True)
        ray.shutdown()
    if "train" not in phases:
        return 0

    # Largest first, so the pool's workers finish together.
    todo = [arch for arch in space.archs() if len(rows.get(arch.key, {}).get("scores", [])) != args.epochs]
    todo.sort(key=lambda arch: -arch.encoder_flops(config.task.seq_len))
    teacher_dir = str(prepare_teacher(config, config.resolved_cache_dir())) if config.teacher else None
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            pool.submit(train_scores, arch.to_dict(), config, teacher_dir, args.train_threads): arch for arch in todo
        }
        for future in as_completed(futures):
            arch = futures[future]
            scores, seconds = future.result()
            rows.setdefault(arch.key, {"arch": arch.to_dict()}).update(scores=scores, train_s=seconds)
            save(args.out, table)
            print(f"{arch.key}: scores {', '.join(f'{s:.3f}' for s in scores)} ({seconds:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
