"""Phase two: train chosen architectures of a finished search fully and bundle them.

The search trained each candidate on a proxy budget; here the chosen Pareto points are
trained with ``finalize.training`` on ``finalize.num_train`` examples (the same teacher,
inheritance and distillation), evaluated on the whole dev split, measured on the
search's device, and written as bundles under ``RUN_DIR/final/<arch key>/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from device_profilers import Device, profile_arch
from device_profilers.files import write_atomic
from search_spaces import Arch

from ..config import ConfigError, SearchConfig
from ..data import TaskData, load_task
from ..teacher import build_student, prepare_teacher
from ..training import Trainer, count_parameters, device_name, local_training_device
from .bundle import write_bundle

FINAL_DIR = "final"


def chosen_archs(run_dir: Path, max_models: int, max_latency_ms: float | None = None) -> list[Arch]:
    """The front's highest-scoring architectures (``pareto.json``), at most ``max_models``,
    of those at or under ``max_latency_ms`` where it is set."""
    front_file = run_dir / "pareto.json"
    if not front_file.is_file():
        raise ConfigError(f"{str(run_dir)!r} has no pareto.json: give the directory of a finished 'canao search'")
    front = json.loads(front_file.read_text())
    if not front:
        raise ConfigError(f"the Pareto front in {str(front_file)!r} is empty: no feasible trial to finalize")
    fast_enough = [row for row in front if max_latency_ms is None or row["latency_ms"] <= max_latency_ms]
    if not fast_enough:
        fastest = min(row["latency_ms"] for row in front)
        raise ConfigError(
            f"finalize.max_latency_ms: no front point runs in {max_latency_ms} ms or less (the fastest: "
            f"{fastest:.3g} ms); raise it, or search with a lower budget"
        )
    best_first = sorted(fast_enough, key=lambda row: -row["score"])
    return [Arch.from_dict(row["arch"]) for row in best_first[:max_models]]


def finalize_run(run_dir: str | Path, archs: list[Arch] | None = None) -> list[dict]:
    """Train, evaluate, measure and bundle ``archs`` (default: from the front); returns one
    summary row per model, also written to ``RUN_DIR/final/summary.json``."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{str(run_dir)!r} has no config.yaml: give the directory of a 'canao search' run")
    config = SearchConfig.from_yaml(run_dir / "config.yaml")
    archs = archs or chosen_archs(run_dir, config.finalize.max_models, config.finalize.max_latency_ms)
    trains_on = local_training_device("finalize.gpus", config.finalize.gpus)
    teacher_dir = prepare_teacher(config, config.resolved_cache_dir()) if config.teacher is not None else None
    data = load_task(config.task.model_copy(update={"num_train": config.finalize.num_train}), config.teacher)
    device = config.latency.make_device()
    torch.set_num_threads(device.num_threads)
    rows = [
        _finalize(arch, config, data, device, trains_on, teacher_dir, run_dir / FINAL_DIR / arch.key) for arch in archs
    ]
    write_atomic(run_dir / FINAL_DIR / "summary.json", json.dumps(rows, indent=2))
    return rows


def _finalize(
    arch: Arch, config: SearchConfig, data: TaskData, device: Device, trains_on: torch.device, teacher_dir, bundle: Path
) -> dict:
    """Measure, train and bundle one architecture; its summary row."""
    start = time.perf_counter()
    cache_dir, settings = config.resolved_cache_dir(), config.finalize.training
    latencies = profile_arch(
        arch,
        device,
        ["tvm"] if device.rpc is not None else ["tvm", "ort"],
        batch=config.latency.batch,
        seq_len=config.task.seq_len,
        cache_dir=cache_dir,
        tuning=config.latency.tuning,
        protocol=config.latency.protocol,
        # Measured afresh, with nothing else running: the search's figure may have been
        # taken while other trials waited for their training turn.
        use_cache=False,
    )
    model, loss = build_student(arch, data, config.model_copy(update={"training": settings}), teacher_dir, trains_on)
    trainer = Trainer(model, data, settings, loss, trains_on)
    for epoch in range(1, settings.epochs + 1):
        train_loss = trainer.epoch()
        print(
            f"[canao] finalize {arch.key} epoch {epoch}: loss {train_loss:.4f} {trainer.evaluate(precision=arch.precision)}",
            flush=True,
        )
    latency = {lat.backend: lat.to_dict() for lat in latencies}
    trained_on = {"device": device_name(trains_on), "precision": settings.precision or "fp32"}
    metrics = write_bundle(
        bundle,
        trainer.trained,
        arch,
        data,
        trainer.evaluate(),
        device,
        cache_dir,
        config.latency.tuning,
        latency,
        trained_on,
    )
    print(f"[canao] finalize {arch.key}: bundle {bundle}", flush=True)
    return {
        "arch_key": arch.key,
        "arch": arch.to_dict(),
        "params": count_parameters(model),
        "metrics": metrics,
        "latency_ms": {backend: lat["median_ms"] for backend, lat in latency.items()},
        "bundle": str(bundle),
        "wall_s": time.perf_counter() - start,
    }
