"""Task data and the train/evaluate loop a trial runs for its candidate."""

from __future__ import annotations

from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

import torch

from search_spaces import Arch, to_bert_config

from .config import TaskConfig, TrainingSettings
from .embedded_task import LABELS, build_tokenizer, generate


STEPS_PER_TURN = 32  # training steps between chances for a measurement to take the cores


@dataclass(frozen=True)
class TaskData:
    train: Any  # datasets.Dataset with input_ids, attention_mask, labels as torch tensors
    dev: Any
    vocab_size: int
    num_labels: int
    seq_len: int


def load_task(task: TaskConfig) -> TaskData:
    """Tokenised train and dev splits of the configured task."""
    import datasets

    tokenizer = build_tokenizer(task.seq_len)
    max_words = task.seq_len - 2  # room for [CLS] and [SEP]

    def split(count: int, seed: int):
        examples = generate(count, seed, max_words)
        raw = datasets.Dataset.from_dict(
            {"text": [e.text for e in examples], "labels": [e.label for e in examples]}
        )
        encoded = raw.map(
            lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True, max_length=task.seq_len),
            batched=True,
            remove_columns=["text"],
        )
        return encoded.with_format("torch")

    return TaskData(
        train=split(task.num_train, task.seed),
        dev=split(task.num_dev, task.seed + 1_000_003),
        vocab_size=tokenizer.vocab_size,
        num_labels=len(LABELS),
        seq_len=task.seq_len,
    )


def build_model(arch: Arch, data: TaskData, seed: int) -> torch.nn.Module:
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = to_bert_config(
        arch, vocab_size=data.vocab_size, max_position_embeddings=data.seq_len, num_labels=data.num_labels
    )
    return BertForSequenceClassification(config)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _batches(dataset, batch_size: int, shuffle: bool, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
    yield from loader


class Trainer:
    """AdamW with linear decay over the configured epochs; one ``epoch()`` call per report."""

    def __init__(self, model: torch.nn.Module, data: TaskData, settings: TrainingSettings):
        self.model = model
        self.data = data
        self.settings = settings
        steps = settings.epochs * -(-len(data.train) // settings.batch_size)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: max(0.0, 1.0 - step / steps)
        )
        self.epochs_done = 0

    def epoch(self, turn: Callable[[], ContextManager] = nullcontext) -> float:
        """Train one epoch; returns the mean training loss.

        Every ``STEPS_PER_TURN`` steps run inside a fresh ``turn()``, which lets a
        latency measurement on this node have the cores in between (``training_turn``).
        """
        self.model.train()
        total, batches = 0.0, 0
        seed = self.settings.seed + self.epochs_done
        with ExitStack() as turns:
            for batch in _batches(self.data.train, self.settings.batch_size, True, seed):
                if batches % STEPS_PER_TURN == 0:
                    turns.close()
                    turns.enter_context(turn())
                loss = self.model(**batch).loss
                loss.backward()
                self.optimizer.step()
                self.schedule.step()
                self.optimizer.zero_grad(set_to_none=True)
                total += loss.item()
                batches += 1
        self.epochs_done += 1
        return total / max(batches, 1)

    @torch.no_grad()
    def accuracy(self, turn: Callable[[], ContextManager] = nullcontext) -> float:
        self.model.eval()
        correct = 0
        with turn():
            for batch in _batches(self.data.dev, 256, False, 0):
                labels = batch.pop("labels")
                correct += (self.model(**batch).logits.argmax(-1) == labels).sum().item()
        return correct / len(self.data.dev)
