"""Weight inheritance: a candidate starts from the teacher's most important parts.

A candidate keeps the teacher's top layers (in their order), and in each its top heads and
FFN units, over the top hidden dimensions (``importance``); the rest of its weights (a
dimension larger than the teacher's) keep their fresh initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from search_spaces import Arch

from .importance import Importance


@dataclass(frozen=True)
class Selection:
    """Which teacher units a student keeps: indices into the teacher's dimensions."""

    layers: tuple[int, ...]
    hidden: torch.Tensor
    attention: tuple[torch.Tensor, ...]  # per kept layer: rows of Q/K/V (head-major)
    ffn: tuple[torch.Tensor, ...]  # per kept layer


def _top(scores: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the ``count`` highest scores, in ascending index order."""
    count = min(count, scores.numel())
    return torch.sort(torch.topk(scores, count).indices).values


def select(arch: Arch, teacher_config, scores: Importance) -> Selection:
    """The teacher units ``arch`` inherits, most important first where it must choose.

    Heads are kept whole when the student's head size equals the teacher's; otherwise
    the attention dimensions are filled from the teacher's heads in order of their
    importance (a student head then mixes parts of teacher heads).
    """
    teacher_head = teacher_config.hidden_size // teacher_config.num_attention_heads
    layers = tuple(_top(scores.layers, arch.num_layers).tolist())
    attention, ffn = [], []
    for layer in layers:
        head_order = torch.argsort(scores.heads[layer], descending=True)
        rows = torch.cat([torch.arange(h * teacher_head, (h + 1) * teacher_head) for h in head_order.tolist()])
        if arch.head_dim == teacher_head:
            kept = torch.sort(head_order[: arch.num_heads]).values
            rows = torch.cat([torch.arange(h * teacher_head, (h + 1) * teacher_head) for h in kept.tolist()])
        attention.append(rows[: arch.hidden_size])
        ffn.append(_top(scores.ffn[layer], arch.intermediate_size))
    return Selection(layers, _top(scores.hidden, arch.hidden_size), tuple(attention), tuple(ffn))


@torch.no_grad()
def _copy(target: torch.Tensor, source: torch.Tensor, *index: torch.Tensor | slice) -> None:
    """``target[:n, :m] = source[index]``, where ``n, m`` are what the index yields."""
    picked = source
    for dim, positions in enumerate(index):
        if isinstance(positions, torch.Tensor):
            picked = picked.index_select(dim, positions)
        else:
            picked = picked[(slice(None),) * dim + (positions,)]
    region = tuple(slice(0, size) for size in picked.shape)
    target[region].copy_(picked[tuple(slice(0, size) for size in target[region].shape)])


def inherit(student, teacher, selection: Selection) -> None:
    """Copy the selected teacher weights into ``student`` (both ``BertForSequenceClassification``)."""
    hidden = selection.hidden
    s, t = student.bert, teacher.bert
    positions = slice(0, s.embeddings.position_embeddings.num_embeddings)
    _copy(s.embeddings.word_embeddings.weight, t.embeddings.word_embeddings.weight, slice(None), hidden)
    _copy(s.embeddings.position_embeddings.weight, t.embeddings.position_embeddings.weight, positions, hidden)
    _copy(s.embeddings.token_type_embeddings.weight, t.embeddings.token_type_embeddings.weight, slice(None), hidden)
    for name in ("weight", "bias"):
        _copy(getattr(s.embeddings.LayerNorm, name), getattr(t.embeddings.LayerNorm, name), hidden)
    for student_layer, teacher_index, rows, units in zip(
        s.encoder.layer, selection.layers, selection.attention, selection.ffn
    ):
        source = t.encoder.layer[teacher_index]
        for name in ("query", "key", "value"):
            _copy(
                getattr(student_layer.attention.self, name).weight,
                getattr(source.attention.self, name).weight,
                rows,
                hidden,
            )
            _copy(getattr(student_layer.attention.self, name).bias, getattr(source.attention.self, name).bias, rows)
        _copy(student_layer.attention.output.dense.weight, source.attention.output.dense.weight, hidden, rows)
        _copy(student_layer.intermediate.dense.weight, source.intermediate.dense.weight, units, hidden)
        _copy(student_layer.intermediate.dense.bias, source.intermediate.dense.bias, units)
        _copy(student_layer.output.dense.weight, source.output.dense.weight, hidden, units)
        for student_part, teacher_part in (
            (student_layer.attention.output, source.attention.output),
            (student_layer.output, source.output),
        ):
            _copy(student_part.dense.bias, teacher_part.dense.bias, hidden)
            for name in ("weight", "bias"):
                _copy(getattr(student_part.LayerNorm, name), getattr(teacher_part.LayerNorm, name), hidden)
    if s.pooler is not None and t.pooler is not None:
        _copy(s.pooler.dense.weight, t.pooler.dense.weight, hidden, hidden)
        _copy(s.pooler.dense.bias, t.pooler.dense.bias, hidden)
    _copy(student.classifier.weight, teacher.classifier.weight, slice(None), hidden)
    _copy(student.classifier.bias, teacher.classifier.bias)
