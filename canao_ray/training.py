"""Task data and the train/evaluate loop a trial runs for its candidate."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

from search_spaces import Arch, to_bert_config

from .config import EMBEDDED_TASK, ConfigError, SearchConfig, TaskConfig, TeacherSettings, TrainingSettings
from .distill import Distiller
from .embedded_task import LABELS, build_tokenizer, generate
from .glue import GlueDataError, GlueTask, glue_metrics, glue_task, load_glue
from .inherit import Importance, importance, inherit, select
from .teacher import TeacherError, checkpoint_path, finetuned_dir, save_atomically

IMPORTANCE_FILE = "importance.safetensors"

logger = logging.getLogger(__name__)

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

    @property
    def key(self) -> str:
        """Identifies the examples and their tokenisation (datasets' fingerprints)."""
        return f"{self.task.name}:{self.seq_len}:{self.train._fingerprint}:{self.dev._fingerprint}"


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
        tokenizer = load_tokenizer_of(teacher, task)
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


def load_tokenizer_of(teacher: TeacherSettings | None, task: TaskConfig):
    from transformers import AutoTokenizer

    if teacher is None:
        raise ValueError(f"task {task.name!r} is tokenised with the teacher's tokenizer: set teacher.model")
    return AutoTokenizer.from_pretrained(checkpoint_path(teacher.model), model_max_length=task.seq_len)


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


def _plain_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(**batch).loss


class Trainer:
    """AdamW with linear warm-up and decay over the configured epochs; one ``epoch()``
    call per report.

    ``loss(model, batch)`` is the task's own loss unless a ``Distiller`` supplies one.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data: TaskData,
        settings: TrainingSettings,
        loss: Callable[[torch.nn.Module, dict], torch.Tensor] = _plain_loss,
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
        self.epochs_done = 0

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
                total += loss.item()
                batches += 1
        self.epochs_done += 1
        return total / max(batches, 1)

    @torch.no_grad()
    def evaluate(self, turn: Callable[[], ContextManager] = nullcontext) -> dict[str, float]:
        """The task's metrics on the dev split, plus ``score``: the first of them."""
        self.model.eval()
        logits, labels = [], []
        with turn():
            for batch in self._batches(self.data.dev, 128, False, 0):
                labels.append(batch.pop("labels").numpy())
                logits.append(self.model(**batch).logits.float().numpy())
        metrics = glue_metrics(self.data.task, np.concatenate(logits), np.concatenate(labels))
        return {**metrics, "score": metrics[self.data.task.score_name]}


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
    import dataclasses

    from transformers import AutoModelForSequenceClassification

    teacher = config.teacher
    data = load_task(dataclasses.replace(config.task, num_train=teacher.num_train), teacher)
    settings = teacher.finetune
    target = finetuned_dir(cache_dir, teacher.model, data.key, settings.__dict__)
    if (target / "metrics.json").is_file():
        _ensure_importance(target, data, teacher)
        return target
    torch.manual_seed(settings.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint_path(teacher.model), num_labels=data.num_labels
    )
    trainer = Trainer(model, data, settings)
    metrics: dict[str, float] = {}
    for epoch in range(1, settings.epochs + 1):
        loss = trainer.epoch()
        metrics = {**trainer.evaluate(), "loss": loss, "epoch": epoch}
        logger.info("teacher %s epoch %d: %s", teacher.model, epoch, metrics)
        print(f"teacher {teacher.model} on {data.task.name}, epoch {epoch}: {metrics}", flush=True)
    save_atomically(model, data.tokenizer, {**metrics, "task": data.key, "teacher": teacher.model}, target)
    _ensure_importance(target, data, teacher)
    return target


def _ensure_importance(teacher_dir: Path, data: TaskData, teacher: TeacherSettings) -> None:
    """Rank the fine-tuned teacher's units on training batches, once (kept beside it)."""
    import itertools

    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification

    path = teacher_dir / IMPORTANCE_FILE
    if path.is_file():
        return
    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir)
    sample = itertools.islice(batches(data, data.train, teacher.finetune.batch_size, True, teacher.finetune.seed), teacher.importance_batches)
    scores = importance(model, sample)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    save_file({k: v.contiguous() for k, v in scores.__dict__.items()}, str(partial))
    os.replace(partial, path)


def load_teacher(teacher_dir: str | Path) -> tuple[torch.nn.Module, Importance]:
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir).eval()
    return model, Importance(**load_file(str(Path(teacher_dir) / IMPORTANCE_FILE)))


def build_student(
    arch: Arch, data: TaskData, config: SearchConfig, teacher_dir: str | Path | None
) -> tuple[torch.nn.Module, Callable[[torch.nn.Module, dict], torch.Tensor]]:
    """A candidate and its training loss: fresh and plain without a teacher; else with
    the teacher's most important weights (``teacher.inherit``) and distilled from it."""
    model = build_model(arch, data, config.training.seed)
    if teacher_dir is None or config.teacher is None:
        return model, _plain_loss
    teacher, scores = load_teacher(teacher_dir)
    selection = select(arch, teacher.config, scores)
    if config.teacher.inherit:
        inherit(model, teacher, selection)
    if config.teacher.distill is None:
        return model, _plain_loss
    return model, Distiller(teacher, selection, config.teacher.distill, data.task.is_regression).loss
