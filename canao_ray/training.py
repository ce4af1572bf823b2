"""Task data and the train/evaluate loop a trial runs for its candidate."""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, ContextManager, Iterator

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from transformers import get_linear_schedule_with_warmup

from search_spaces import Arch, to_bert_config

from .checkpoints import teacher_tokenizer
from .config import EMBEDDED_TASK, TaskConfig, TeacherSettings, TrainingSettings
from .embedded_task import LABELS, build_tokenizer, generate
from .glue import GlueTask, glue_metrics, glue_task, load_glue

STEPS_PER_TURN = 32  # training steps between chances for a measurement to take the cores
EMBEDDED_SIZES = (4000, 600)  # generated train and dev examples when the config gives none
EMBEDDED = GlueTask(EMBEDDED_TASK, ("text",), len(LABELS), ("accuracy",))


@dataclass(frozen=True)
class TaskData:
    """Tokenised, unpadded splits; ``collate`` pads each batch to its longest example."""

    task: GlueTask
    train: Any  # datasets.Dataset with input_ids, attention_mask, labels
    dev: Any
    tokenizer: Any
    seq_len: int

    @property
    def num_labels(self) -> int:
        return self.task.num_labels

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def collate(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        return self.tokenizer.pad(rows, return_tensors="pt")

    @cached_property
    def key(self) -> str:
        """Identifies the examples and their tokenisation by content: the token ids and labels.

        datasets' fingerprints would be cheaper, but they hash the tokenising closure,
        which changes with the code around it, so a teacher cached under them was
        fine-tuned again after an unrelated edit or from another checkout.
        """
        digest = hashlib.sha256()
        for split in (self.train, self.dev):
            digest.update(json.dumps(split.select_columns(["input_ids", "labels"]).to_dict(), sort_keys=True).encode())
        return f"{self.task.name}:{self.seq_len}:{digest.hexdigest()[:16]}"


def _subset(dataset, count: int | None, seed: int):
    if count is None or count >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(count))


def load_task(task: TaskConfig, teacher: TeacherSettings | None = None) -> TaskData:
    """Tokenised train and dev splits of the configured task.

    GLUE text is tokenised with the teacher's tokenizer (its vocabulary is what the
    inherited embeddings index); the embedded task has its own.
    """
    import datasets

    if task.name == EMBEDDED_TASK:
        tokenizer = build_tokenizer(task.seq_len)
        num_train, num_dev = task.num_train or EMBEDDED_SIZES[0], task.num_dev or EMBEDDED_SIZES[1]

        def generated(count: int, seed: int):
            examples = generate(count, seed, task.seq_len - 2)  # room for [CLS] and [SEP]
            return datasets.Dataset.from_dict({"text": [e.text for e in examples], "label": [e.label for e in examples]})

        spec, raw = EMBEDDED, {"train": generated(num_train, task.seed), "validation": generated(num_dev, task.seed + 1_000_003)}
    else:
        tokenizer = teacher_tokenizer(teacher, task)
        spec, raw = glue_task(task.name), load_glue(task.name, task.data_dir)
        raw = {
            "train": _subset(raw["train"], task.num_train, task.seed),
            "validation": _subset(raw["validation"], task.num_dev, task.seed),
        }

    def encode(split):
        columns = [split[name] for name in spec.text_columns]
        return tokenizer(*columns, truncation=True, max_length=task.seq_len)

    def prepare(split):
        encoded = split.map(encode, batched=True, remove_columns=list(spec.text_columns))
        encoded = encoded.map(lambda batch: {"length": [len(ids) for ids in batch["input_ids"]]}, batched=True)
        return encoded.rename_column("label", "labels")

    return TaskData(spec, prepare(raw["train"]), prepare(raw["validation"]), tokenizer, task.seq_len)


def build_model(arch: Arch, data: TaskData, seed: int) -> torch.nn.Module:
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = to_bert_config(
        arch, vocab_size=data.vocab_size, max_position_embeddings=data.seq_len, num_labels=data.num_labels
    )
    return BertForSequenceClassification(config)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def batches(data: TaskData, dataset, batch_size: int, shuffle: bool, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """Padded batches of ``dataset`` (one of ``data``'s splits) of examples of similar length.

    Padding is compute thrown away: SST-2's examples are 13 tokens long on average and
    its longest 66, so random batches are mostly padding. Shuffled, examples are grouped
    by length within random mega-batches (``transformers``' ``LengthGroupedSampler``);
    in order, they are sorted by length.
    """
    from transformers.trainer_pt_utils import LengthGroupedSampler

    lengths = dataset["length"]
    if shuffle:
        order = LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))
    else:
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
    columns = ["input_ids", "attention_mask", "token_type_ids", "labels"]
    rows = dataset.select_columns([c for c in columns if c in dataset.column_names])
    yield from torch.utils.data.DataLoader(rows, batch_size=batch_size, sampler=order, collate_fn=data.collate)


def task_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
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

    def epoch(self, turn: Callable[[], ContextManager] = nullcontext) -> float:
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
    def evaluate(self, turn: Callable[[], ContextManager] = nullcontext) -> dict[str, float]:
        """The task's metrics on the dev split, plus ``score``: the first of them."""
        model = self.trained.eval()
        logits, labels = [], []
        with turn():
            for batch in self._batches(self.data.dev, 128, False, 0):
                labels.append(batch.pop("labels").numpy())
                logits.append(model(**batch).logits.float().numpy())
        metrics = glue_metrics(self.data.task, np.concatenate(logits), np.concatenate(labels))
        return {**metrics, "score": metrics[self.data.task.score_name]}
