"""The teacher fine-tuned on the task and ranked for inheritance, once, then cached.

Fine-tuning happens once per (checkpoint, task data, settings) and is kept in the cache
directory under ``teachers/``; every trial and every later run loads it from there.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from pathlib import Path

import torch

from device_profilers.files import atomic_directory, atomic_path

from ..config import ConfigError, SearchConfig, TeacherSettings
from ..data import TaskData, TaskDataError, batches, load_task
from ..training import Trainer, device_name, label_config, local_training_device
from .importance import importance
from .sources import TeacherError, checkpoint_path, load_classifier, teacher_config

IMPORTANCE_FILE = "importance.safetensors"

logger = logging.getLogger(__name__)


def finetuned_dir(cache_dir: str | os.PathLike, name: str, task_key: str, settings: dict) -> Path:
    """The cache entry of teacher ``name`` fine-tuned on the task identified by ``task_key``."""
    digest = hashlib.sha256(json.dumps([name, task_key, settings], sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / "teachers" / f"{Path(name).name}-{digest}"


def save_teacher(model, tokenizer, metrics: dict, target: Path) -> None:
    """Write the checkpoint aside and rename it to ``target``; if another process finished the
    same fine-tuning first, its checkpoint stands."""
    with atomic_directory(target, replace=False) as partial:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        (partial / "metrics.json").write_text(json.dumps({**metrics, "saved_at": time.time()}, indent=2))


def prepare_teacher(config: SearchConfig, cache_dir: str | Path) -> Path:
    """The teacher fine-tuned on the config's task: from the cache, or trained now and cached.

    It learns from ``teacher.num_train`` examples, by default the whole training split:
    the task's ``num_train`` is a proxy budget for candidates, not a limit on what the
    teacher knows. Missing data or teacher files raise ``ConfigError``.
    """
    try:
        return _prepare_teacher(config, cache_dir)
    except (TaskDataError, TeacherError) as error:
        raise ConfigError(str(error)) from None


def _prepare_teacher(config: SearchConfig, cache_dir: str | Path) -> Path:
    teacher = config.teacher
    family_config = teacher_config(teacher.model)  # a teacher canao cannot use fails before any data is tokenised
    device = local_training_device("teacher.gpus", teacher.gpus)
    data = load_task(config.task.model_copy(update={"num_train": teacher.num_train}), teacher)
    settings = teacher.finetune
    target = finetuned_dir(cache_dir, teacher.model, data.key, settings.identity())
    if (target / "metrics.json").is_file():
        _ensure_importance(target, data, teacher, device)
        return target
    torch.manual_seed(settings.seed)
    labels = label_config(family_config, data.task)
    model = load_classifier(
        checkpoint_path(teacher.model),
        num_labels=labels.num_labels,
        id2label=labels.id2label,
        label2id=labels.label2id,
        ignore_mismatched_sizes=True,  # a checkpoint fine-tuned on other classes gets a new head
    )
    trainer = Trainer(model, data, settings, device=device)
    metrics: dict[str, float] = {}
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        loss = trainer.epoch()
        metrics = {**trainer.evaluate(), "loss": loss, "epoch": epoch}
        logger.info("teacher %s epoch %d: %s", teacher.model, epoch, metrics)
        print(f"teacher {teacher.model} on {data.task.name}, epoch {epoch}: {metrics}", flush=True)
    # The fine-tuning time is kept so a later run that reuses this teacher can report it.
    metrics["finetune_s"] = time.perf_counter() - start
    record = {**metrics, "task": data.key, "teacher": teacher.model, "device": device_name(device)}
    save_teacher(trainer.trained.cpu(), data.tokenizer, record, target)
    _ensure_importance(target, data, teacher, device)
    return target


def _ensure_importance(teacher_dir: Path, data: TaskData, teacher: TeacherSettings, device: torch.device) -> None:
    """Rank the fine-tuned teacher's units on training batches, once (kept beside it)."""
    from safetensors.torch import save_file

    path = teacher_dir / IMPORTANCE_FILE
    if path.is_file():
        return
    model = load_classifier(teacher_dir).to(device)
    sample = itertools.islice(
        batches(data, data.train, teacher.finetune.batch_size, True, teacher.finetune.seed), teacher.importance_batches
    )
    scores = importance(model, ({k: v.to(device) for k, v in batch.items()} for batch in sample))
    with atomic_path(path) as partial:
        save_file({k: v.contiguous().cpu() for k, v in scores.__dict__.items()}, str(partial))
