"""The train/evaluate loop every candidate, the teacher and finalize run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from transformers import get_linear_schedule_with_warmup

from search_spaces import Arch, to_bert_config

from .data import TaskData, batches, task_metrics

if TYPE_CHECKING:
    from .config import TrainingSettings

STEPS_PER_TURN = 32  # training steps between chances for a measurement to take the cores


def build_model(arch: Arch, data: TaskData, seed: int) -> torch.nn.Module:
    """A freshly initialised classifier of ``arch`` for ``data``'s vocabulary, length and labels."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = to_bert_config(
        arch, vocab_size=data.vocab_size, max_position_embeddings=data.seq_len, num_labels=data.num_labels
    )
    return BertForSequenceClassification(config)


def count_parameters(model: torch.nn.Module) -> int:
    """All parameters of ``model``, embeddings and head included."""
    return sum(p.numel() for p in model.parameters())


def task_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's own loss on the batch's labels."""
    return model(**batch).loss


class Trainer:
    """AdamW with linear warm-up and decay over the configured epochs; one ``epoch()``
    call per report.

    ``loss(model, batch)`` is the task's own loss unless a ``Distiller`` supplies one.
    ``trained`` is the model to evaluate and export: the trained one, or its moving
    average when ``settings.ema_decay`` is set.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data: TaskData,
        settings: TrainingSettings,
        loss: Callable[[torch.nn.Module, dict], torch.Tensor] = task_loss,
    ):
        self.model = model
        self.data = data
        self.settings = settings
        self.loss = loss
        steps = settings.epochs * -(-len(data.train) // settings.batch_size)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        self.schedule = get_linear_schedule_with_warmup(self.optimizer, int(settings.warmup_ratio * steps), steps)
        self.average = (
            None
            if settings.ema_decay is None
            else AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay))
        )
        self.epochs_done = 0

    @property
    def trained(self) -> torch.nn.Module:
        return self.model if self.average is None else self.average.module

    def _batches(self, dataset, batch_size: int, shuffle: bool, seed: int) -> Iterator[dict[str, torch.Tensor]]:
        yield from batches(self.data, dataset, batch_size, shuffle, seed)

    def epoch(self, turn: Callable[[], AbstractContextManager] = nullcontext) -> float:
        """Train one epoch; returns the mean training loss.

        Every ``STEPS_PER_TURN`` steps run inside a fresh ``turn()``, which lets a
        latency measurement on this node have the cores in between (``training_turn``).
        """
        self.model.train()
        total, batches = 0.0, 0
        seed = self.settings.seed + self.epochs_done
        with ExitStack() as turns:
            for batch in self._batches(self.data.train, self.settings.batch_size, True, seed):
                if batches % STEPS_PER_TURN == 0:
                    turns.close()
                    turns.enter_context(turn())
                loss = self.loss(self.model, batch)
                loss.backward()
                self.optimizer.step()
                self.schedule.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.average is not None:
                    self.average.update_parameters(self.model)
                total += loss.item()
                batches += 1
        self.epochs_done += 1
        return total / max(batches, 1)

    @torch.no_grad()
    def evaluate(self, turn: Callable[[], AbstractContextManager] = nullcontext) -> dict[str, float]:
        """The task's metrics on the dev split, plus ``score``: the first of them."""
        model = self.trained.eval()
        logits, labels = [], []
        with turn():
            for batch in self._batches(self.data.dev, 128, False, 0):
                labels.append(batch.pop("labels").numpy())
                logits.append(model(**batch).logits.float().numpy())
        metrics = task_metrics(self.data.task, np.concatenate(logits), np.concatenate(labels))
        return {**metrics, "score": metrics[self.data.task.score_name]}
