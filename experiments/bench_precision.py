"""Mixed precision against fp32: the same candidate trained on the same slice, side by side.

    python experiments/bench_precision.py [--config experiments/own_dataset.yaml] [--arch L2-H128-A4-I512] \\
        [--precisions fp32 bf16] [--out experiments/results/bench_precision.md]

Each precision trains the same architecture from the same seed, with the config's teacher
(inheritance, distillation) when it has one, on the config's task and training settings,
on this machine's CPU or on its GPU with ``--gpus 1``; the dev metrics and the training
time of each are printed, and the differences to fp32.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from canao_ray import SearchConfig
from canao_ray.data import load_task
from canao_ray.teacher import build_student, prepare_teacher
from canao_ray.training import Trainer, device_name, local_training_device
from search_spaces import Arch


def train_once(config: SearchConfig, arch: Arch, precision: str, device: torch.device, teacher_dir) -> dict:
    settings = config.training.model_copy(update={"precision": None if precision == "fp32" else precision})
    data = load_task(config.task, config.teacher)
    model, loss = build_student(arch, data, config.model_copy(update={"training": settings}), teacher_dir, device)
    trainer = Trainer(model, data, settings, loss, device)
    start = time.perf_counter()
    for _ in range(settings.epochs):
        trainer.epoch()
    train_s = time.perf_counter() - start
    return {"precision": precision, **trainer.evaluate(), "train_s": train_s}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a search config (default: the embedded quickstart)")
    parser.add_argument("--arch", default="L2-H128-A4-I512", help="the candidate, as an Arch key")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--gpus", type=int, default=0, choices=[0, 1])
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    config = SearchConfig.from_yaml(args.config) if args.config else SearchConfig()
    arch = Arch.from_key(args.arch)
    device = local_training_device("--gpus", args.gpus)
    torch.set_num_threads(config.search.trial_cpus)
    teacher_dir = prepare_teacher(config, config.resolved_cache_dir()) if config.teacher is not None else None
    rows = [train_once(config, arch, precision, device, teacher_dir) for precision in args.precisions]
    score, base = config.task.score_name, rows[0]
    lines = [
        f"# Mixed precision, {arch.key} on {config.task.name} ({device_name(device)}, {config.training.epochs} epochs)",
        "",
        f"| precision | {score} | {score} - {base['precision']} (points) | training s | speed-up |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['precision']} | {row[score]:.4f} | {100 * (row[score] - base[score]):+.2f} | "
            f"{row['train_s']:.1f} | {base['train_s'] / row['train_s']:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    print(json.dumps(rows, indent=2))
    if args.out:
        args.out.write_text(text + "\n```json\n" + json.dumps(rows, indent=2) + "\n```\n")


if __name__ == "__main__":
    main()
