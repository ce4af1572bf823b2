"""Weight inheritance: a candidate starts from the teacher's most important parts.

A candidate keeps the teacher's top layers (in their order), and in each as many of that
layer's top heads and FFN units as its own shape has (so a per-layer candidate's widths
follow where the teacher's importance lies), over the top hidden dimensions
(``importance``); the rest of its weights (a
dimension larger than the teacher's) keep their fresh initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from search_spaces import Arch

from ..models import model_parts
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
    for layer, shape in zip(layers, arch.layers):
        head_order = torch.argsort(scores.heads[layer], descending=True)
        rows = torch.cat([torch.arange(h * teacher_head, (h + 1) * teacher_head) for h in head_order.tolist()])
        if arch.head_dim == teacher_head:
            kept = torch.sort(head_order[: shape.num_heads]).values
            rows = torch.cat([torch.arange(h * teacher_head, (h + 1) * teacher_head) for h in kept.tolist()])
        attention.append(rows[: shape.num_heads * arch.head_dim])
        ffn.append(_top(scores.ffn[layer], shape.intermediate_size))
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
    """Copy the selected teacher weights into ``student`` (sequence classifiers of one family)."""
    hidden = selection.hidden
    s, t = model_parts(student), model_parts(teacher)
    # Behind a projection (ELECTRA's narrower embeddings) the tables are copied whole.
    embedding_dims = hidden if t.projection is None else slice(None)
    for student_table, teacher_table in zip(s.embeddings, t.embeddings):
        _copy(student_table.weight, teacher_table.weight, slice(None), embedding_dims)
    for name in ("weight", "bias"):
        _copy(getattr(s.embedding_norm, name), getattr(t.embedding_norm, name), embedding_dims)
    if s.projection is not None and t.projection is not None:
        _copy(s.projection.weight, t.projection.weight, hidden, slice(None))
        _copy(s.projection.bias, t.projection.bias, hidden)
    for student_layer, teacher_index, rows, units in zip(
        s.layers, selection.layers, selection.attention, selection.ffn
    ):
        source = t.layers[teacher_index]
        for name in ("query", "key", "value"):
            _copy(getattr(student_layer, name).weight, getattr(source, name).weight, rows, hidden)
            _copy(getattr(student_layer, name).bias, getattr(source, name).bias, rows)
        _copy(student_layer.attention_out.weight, source.attention_out.weight, hidden, rows)
        _copy(student_layer.ffn_in.weight, source.ffn_in.weight, units, hidden)
        _copy(student_layer.ffn_in.bias, source.ffn_in.bias, units)
        _copy(student_layer.ffn_out.weight, source.ffn_out.weight, hidden, units)
        for student_out, teacher_out in (
            (student_layer.attention_out, source.attention_out),
            (student_layer.ffn_out, source.ffn_out),
        ):
            _copy(student_out.bias, teacher_out.bias, hidden)
        for student_norm, teacher_norm in (
            (student_layer.attention_norm, source.attention_norm),
            (student_layer.output_norm, source.output_norm),
        ):
            for name in ("weight", "bias"):
                _copy(getattr(student_norm, name), getattr(teacher_norm, name), hidden)
    if s.pooler is not None and t.pooler is not None:
        _copy(s.pooler.weight, t.pooler.weight, hidden, hidden)
        _copy(s.pooler.bias, t.pooler.bias, hidden)
    _copy(s.classifier.weight, t.classifier.weight, slice(None), hidden)
    _copy(s.classifier.bias, t.classifier.bias)
