"""Candidates built from the teacher: its most important weights, and its distillation loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from search_spaces import Arch

from ..config import SearchConfig
from ..data import TaskData
from ..training import build_model, task_loss
from .distill import Distiller
from .finetune import IMPORTANCE_FILE
from .importance import Importance
from .inherit import inherit, select
from .sources import load_classifier


def load_teacher(teacher_dir: str | Path) -> tuple[torch.nn.Module, Importance]:
    """The fine-tuned teacher in eval mode, and the importance of its units."""
    from safetensors.torch import load_file

    model = load_classifier(teacher_dir).eval()
    return model, Importance(**load_file(str(Path(teacher_dir) / IMPORTANCE_FILE)))


def build_student(
    arch: Arch, data: TaskData, config: SearchConfig, teacher_dir: str | Path | None, device: torch.device | None = None
) -> tuple[torch.nn.Module, Callable[[torch.nn.Module, dict], torch.Tensor]]:
    """A candidate and its training loss: a fresh BERT trained on labels without a teacher;
    else in the teacher's family, with its most important weights (``teacher.inherit``)
    and distilled from it, the teacher placed on ``device`` (where the student will train)."""
    if teacher_dir is None or config.teacher is None:
        return build_model(arch, data, config.training.seed), task_loss
    teacher, scores = load_teacher(teacher_dir)
    model = build_model(arch, data, config.training.seed, teacher.config)
    selection = select(arch, teacher.config, scores)
    if config.teacher.inherit:
        inherit(model, teacher, selection)
    if config.teacher.distill is None:
        return model, task_loss
    teacher = teacher.to(device or torch.device("cpu"))
    return model, Distiller(teacher, selection, config.teacher.distill, data.task.is_regression).loss
