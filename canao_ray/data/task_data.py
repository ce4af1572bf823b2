"""A task's splits, tokenised and ready to batch: what trials, the teacher and finalize train on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .embedded import EMBEDDED_TASK, build_tokenizer
from .spec import TaskSpec
from .splits import load_splits

if TYPE_CHECKING:
    import torch

    from ..config import TaskConfig, TeacherSettings


@dataclass(frozen=True)
class TaskData:
    """Tokenised, unpadded splits; ``collate`` pads each batch to its longest example."""

    task: TaskSpec  # the columns, label kind and metrics
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


def load_task(task: TaskConfig, teacher: TeacherSettings | None = None) -> TaskData:
    """Tokenised train and dev splits of the configured task.

    A task on real text is tokenised with the teacher's tokenizer (its vocabulary is what
    the inherited embeddings index); the embedded task has its own.
    """
    import datasets

    datasets.disable_progress_bars()  # canao prints its own progress; bars would bury its one-line errors
    splits = load_splits(task)
    if task.train is None and task.name == EMBEDDED_TASK:
        tokenizer = build_tokenizer(task.seq_len)
    else:
        from ..teacher.sources import teacher_tokenizer

        tokenizer = teacher_tokenizer(teacher, task)
    spec = splits.task

    def encode(split):
        columns = [split[name] for name in spec.text_columns]
        return tokenizer(*columns, truncation=True, max_length=task.seq_len)

    def prepare(split):
        encoded = split.map(encode, batched=True, remove_columns=list(spec.text_columns))
        encoded = encoded.map(lambda batch: {"length": [len(ids) for ids in batch["input_ids"]]}, batched=True)
        return encoded.rename_column("label", "labels")

    return TaskData(spec, prepare(splits.train), prepare(splits.validation), tokenizer, task.seq_len)


def batches(data: TaskData, dataset, batch_size: int, shuffle: bool, seed: int) -> Iterator[dict[str, torch.Tensor]]:
    """Padded batches of ``dataset`` (one of ``data``'s splits) of examples of similar length.

    Padding is compute thrown away: SST-2's examples are 13 tokens long on average and
    its longest 66, so random batches are mostly padding. Shuffled, examples are grouped
    by length within random mega-batches (``transformers``' ``LengthGroupedSampler``);
    in order, they are sorted by length.
    """
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    lengths = dataset["length"]
    if shuffle:
        order = LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))
    else:
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
    columns = ["input_ids", "attention_mask", "token_type_ids", "labels"]
    rows = dataset.select_columns([c for c in columns if c in dataset.column_names])
    yield from torch.utils.data.DataLoader(rows, batch_size=batch_size, sampler=order, collate_fn=data.collate)
