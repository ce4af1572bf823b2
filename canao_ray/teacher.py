"""The teacher: fine-tuned on the task once and cached, ranked for inheritance, and the
candidates built from it.

Fine-tuning happens once per (checkpoint, task data, settings) and is kept in the cache
directory under ``teachers/``; every trial and every later run loads it from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from search_spaces import Arch

from .checkpoints import TeacherError, checkpoint_path, load_classifier
from .config import ConfigError, SearchConfig, TeacherSettings
from .distill import Distiller
from .glue import GlueDataError
from .inherit import Importance, importance, inherit, select
from .training import TaskData, Trainer, batches, build_model, load_task, task_loss

IMPORTANCE_FILE = "importance.safetensors"

logger = logging.getLogger(__name__)


def finetuned_dir(cache_dir: str | os.PathLike, name: str, task_key: str, settings: dict) -> Path:
    """The cache entry of teacher ``name`` fine-tuned on the task identified by ``task_key``."""
    digest = hashlib.sha256(json.dumps([name, task_key, settings], sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / "teachers" / f"{Path(name).name}-{digest}"


def save_atomically(model, tokenizer, metrics: dict, target: Path) -> None:
    """Write the checkpoint next to ``target`` and rename it there: a reader sees all or nothing."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "metrics.json").write_text(json.dumps({**metrics, "saved_at": time.time()}, indent=2))
    try:
        os.rename(partial, target)
    except OSError:  # another process finished the same fine-tuning first
        shutil.rmtree(partial, ignore_errors=True)


def prepare_teacher(config: SearchConfig, cache_dir: str | Path) -> Path:
    """The teacher fine-tuned on the config's task: from the cache, or trained now and cached.

    It learns from ``teacher.num_train`` examples, by default the whole training split:
    the task's ``num_train`` is a proxy budget for candidates, not a limit on what the
    teacher knows. Missing data or teacher files raise ``ConfigError``.
    """
    try:
        return _prepare_teacher(config, cache_dir)
    except (GlueDataError, TeacherError) as error:
        raise ConfigError(str(error)) from None


def _prepare_teacher(config: SearchConfig, cache_dir: str | Path) -> Path:
    teacher = config.teacher
    data = load_task(dataclasses.replace(config.task, num_train=teacher.num_train), teacher)
    settings = teacher.finetune
    target = finetuned_dir(cache_dir, teacher.model, data.key, settings.identity())
    if (target / "metrics.json").is_file():
        _ensure_importance(target, data, teacher)
        return target
    torch.manual_seed(settings.seed)
    model = load_classifier(checkpoint_path(teacher.model), num_labels=data.num_labels)
    trainer = Trainer(model, data, settings)
    metrics: dict[str, float] = {}
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        loss = trainer.epoch()
        metrics = {**trainer.evaluate(), "loss": loss, "epoch": epoch}
        logger.info("teacher %s epoch %d: %s", teacher.model, epoch, metrics)
        print(f"teacher {teacher.model} on {data.task.name}, epoch {epoch}: {metrics}", flush=True)
    # The fine-tuning time is kept so a later run that reuses this teacher can report it.
    metrics["finetune_s"] = time.perf_counter() - start
    save_atomically(trainer.trained, data.tokenizer, {**metrics, "task": data.key, "teacher": teacher.model}, target)
    _ensure_importance(target, data, teacher)
    return target


def _ensure_importance(teacher_dir: Path, data: TaskData, teacher: TeacherSettings) -> None:
    """Rank the fine-tuned teacher's units on training batches, once (kept beside it)."""
    from safetensors.torch import save_file

    path = teacher_dir / IMPORTANCE_FILE
    if path.is_file():
        return
    model = load_classifier(teacher_dir)
    sample = itertools.islice(batches(data, data.train, teacher.finetune.batch_size, True, teacher.finetune.seed), teacher.importance_batches)
    scores = importance(model, sample)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    save_file({k: v.contiguous() for k, v in scores.__dict__.items()}, str(partial))
    os.replace(partial, path)


def load_teacher(teacher_dir: str | Path) -> tuple[torch.nn.Module, Importance]:
    from safetensors.torch import load_file

    model = load_classifier(teacher_dir).eval()
    return model, Importance(**load_file(str(Path(teacher_dir) / IMPORTANCE_FILE)))


def build_student(
    arch: Arch, data: TaskData, config: SearchConfig, teacher_dir: str | Path | None
) -> tuple[torch.nn.Module, Callable[[torch.nn.Module, dict], torch.Tensor]]:
    """A candidate and its training loss: fresh and plain without a teacher; else with
    the teacher's most important weights (``teacher.inherit``) and distilled from it."""
    model = build_model(arch, data, config.training.seed)
    if teacher_dir is None or config.teacher is None:
        return model, task_loss
    teacher, scores = load_teacher(teacher_dir)
    selection = select(arch, teacher.config, scores)
    if config.teacher.inherit:
        inherit(model, teacher, selection)
    if config.teacher.distill is None:
        return model, task_loss
    return model, Distiller(teacher, selection, config.teacher.distill, data.task.is_regression).loss
