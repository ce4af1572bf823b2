"""The train/evaluate loop every candidate, the teacher and finalize run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from transformers import get_linear_schedule_with_warmup

from search_spaces import Arch, to_bert_config

from .config.errors import ConfigError
from .data import TaskData, TaskSpec, batches, task_metrics
from .models import family_of, shape_model

if TYPE_CHECKING:
    from .config import TrainingSettings

STEPS_PER_TURN = 32  # training steps between chances for a measurement to take the cores


def build_model(arch: Arch, data: TaskData, seed: int, teacher_config=None) -> torch.nn.Module:
    """A freshly initialised classifier of ``arch`` for ``data``'s length and labels: in the
    family of ``teacher_config`` (its vocabulary, position offset, token types), else a BERT
    over ``data``'s vocabulary. Its config names the classes (``id2label``)."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    if teacher_config is None:
        config = to_bert_config(arch, vocab_size=data.vocab_size, max_position_embeddings=data.seq_len)
    else:
        config = family_of(teacher_config).student_config(arch, teacher_config, data.seq_len)
    label_config(config, data.task)
    return shape_model(AutoModelForSequenceClassification.from_config(config), arch)


def label_config(config, task: TaskSpec):
    """Set ``config``'s labels to the task's: their count and, for classes, their names."""
    config.num_labels = task.num_labels
    if task.label_names:
        config.id2label = task.id2label()
        config.label2id = {name: index for index, name in task.id2label().items()}
    return config


def training_device(gpus: float) -> torch.device:
    """Where a process trains: the GPU Ray assigned it (Ray narrows ``CUDA_VISIBLE_DEVICES``
    to a trial's GPUs, so it is ``cuda:0``) when it asked for GPUs, else the CPU."""
    if gpus <= 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError(f"asked for {gpus:g} GPU(s) but PyTorch sees no CUDA device (CUDA_VISIBLE_DEVICES, driver?)")
    return torch.device("cuda", 0)


def local_training_device(setting: str, gpus: int) -> torch.device:
    """The device a driver-side step (the teacher's fine-tuning, ``canao finalize``) trains on;
    a ``ConfigError`` naming ``setting`` if it asks for a GPU this machine does not have."""
    if gpus > 0 and not torch.cuda.is_available():
        raise ConfigError(
            f"{setting}: {gpus} asks for a GPU but PyTorch sees none on this machine; set it to 0 or run on a GPU node"
        )
    return training_device(gpus)


def device_name(device: torch.device) -> str:
    """The device in words, as trials.jsonl and bundles record it: ``cpu``, ``cuda:0 (NVIDIA H200)``."""
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


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
    average when ``settings.ema_decay`` is set. The model trains on ``device``, under
    autocast to ``settings.precision`` if set (fp16 with loss scaling), and is evaluated
    in full precision, as it is exported.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        data: TaskData,
        settings: TrainingSettings,
        loss: Callable[[torch.nn.Module, dict], torch.Tensor] = task_loss,
        device: torch.device | None = None,
    ):
        self.device = device or torch.device("cpu")
        self.model = model.to(self.device)
        self.data = data
        self.settings = settings
        self.loss = loss
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(settings.precision)
        self.scaler = torch.amp.GradScaler(self.device.type) if settings.precision == "fp16" else None
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

    def _float_logits(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Dev logits and labels of the trained model, by batches of similar length."""
        model = self.trained.eval()
        logits, labels = [], []
        for batch in self._batches(self.data.dev, 128, False, 0):
            labels.append(batch.pop("labels").cpu().numpy())
            logits.append(model(**batch).logits.float().cpu().numpy())
        return logits, labels

    def _int8_logits(self) -> np.ndarray:
        """Dev logits of the trained model exported, dynamically quantized (``quantize_int8``)
        and run by ONNX Runtime one example at a time, padded as a bundle runs it: the
        activations' ranges, hence the rounding, are per example. PyTorch's own dynamic
        quantization rounds otherwise (its logits were up to 0.9 away on SST-2)."""
        import copy

        from device_profilers.export import export_onnx
        from device_profilers.files import scratch_dir

        from .deploy.bundle import bundle_inputs, onnx_logits

        model = copy.deepcopy(self.trained).cpu().eval()
        with scratch_dir() as tmp:
            inputs = bundle_inputs(self.data)
            path = export_onnx(model, Path(tmp) / "int8.onnx", 1, self.data.seq_len, inputs, precision="int8")
            return onnx_logits(path, self.data, torch.get_num_threads())

    def _batches(self, dataset, batch_size: int, shuffle: bool, seed: int) -> Iterator[dict[str, torch.Tensor]]:
        for batch in batches(self.data, dataset, batch_size, shuffle, seed):
            yield {name: tensor.to(self.device) for name, tensor in batch.items()}

    def _step(self, batch: dict[str, torch.Tensor]) -> float:
        enabled = self.autocast_dtype is not None
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=enabled):
            loss = self.loss(self.model, batch)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item()

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
                total += self._step(batch)
                if self.average is not None:
                    self.average.update_parameters(self.model)
                batches += 1
        self.epochs_done += 1
        return total / max(batches, 1)

    @torch.no_grad()
    def evaluate(
        self, turn: Callable[[], AbstractContextManager] = nullcontext, precision: str = "fp32"
    ) -> dict[str, float]:
        """The task's metrics on the dev split, plus ``score``: the first of them. With
        ``precision="int8"``, those of the int8 model a candidate deploys (``_int8_logits``)."""
        with turn():
            if precision == "int8":
                logits, labels = [self._int8_logits()], [np.asarray(self.data.dev["labels"])]
            else:
                logits, labels = self._float_logits()
        metrics = task_metrics(self.data.task, np.concatenate(logits), np.concatenate(labels))
        return {**metrics, "score": metrics[self.data.task.score_name]}
