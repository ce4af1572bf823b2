"""Weight inheritance: a candidate starts from the teacher's most important parts.

Importance follows Michel et al. (2019, "Are Sixteen Heads Really Better than One?"):
every prunable unit -- a layer, an attention head, an FFN unit, a hidden dimension of
the residual stream -- gets a gate fixed at 1, and its importance is the mean absolute
gradient of the task loss with respect to that gate over a few batches of task data.
A candidate keeps the teacher's top layers (in their order), and in each its top heads
and FFN units, over the top hidden dimensions; the rest of its weights (a dimension
larger than the teacher's) keep their fresh initialisation.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from search_spaces import Arch


@dataclass(frozen=True)
class Importance:
    """Per-unit importance of a BERT encoder (higher: removing it hurts the loss more)."""

    layers: torch.Tensor  # [num_layers]
    heads: torch.Tensor  # [num_layers, num_heads]
    ffn: torch.Tensor  # [num_layers, intermediate_size]
    hidden: torch.Tensor  # [hidden_size]


def _output_tensor(output):
    return output[0] if isinstance(output, tuple) else output


def _with_tensor(output, tensor):
    return (tensor, *output[1:]) if isinstance(output, tuple) else tensor


@contextmanager
def _gates(bert) -> Iterator[dict[str, torch.Tensor]]:
    """Gates (all ones, requiring grad) multiplied into ``bert``'s units by forward hooks."""
    config = bert.config
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    head_dim = config.hidden_size // heads
    gates = {
        "layers": torch.ones(layers, requires_grad=True),
        "heads": torch.ones(layers, heads, requires_grad=True),
        "ffn": torch.ones(layers, config.intermediate_size, requires_grad=True),
        "hidden": torch.ones(config.hidden_size, requires_grad=True),
    }
    handles = []

    def scale_hidden(module, args, output):
        return _with_tensor(output, _output_tensor(output) * gates["hidden"])

    handles.append(bert.embeddings.LayerNorm.register_forward_hook(scale_hidden))
    for index, layer in enumerate(bert.encoder.layer):

        def scale_heads(module, args, output, index=index):
            context = _output_tensor(output)
            scaled = context * gates["heads"][index].repeat_interleave(head_dim)
            return _with_tensor(output, scaled)

        def scale_ffn(module, args, output, index=index):
            return output * gates["ffn"][index]

        def scale_layer(module, args, kwargs, output, index=index):
            before = args[0] if args else kwargs["hidden_states"]
            after = _output_tensor(output)
            return _with_tensor(output, before + gates["layers"][index] * (after - before))

        handles += [
            layer.attention.self.register_forward_hook(scale_heads),
            layer.intermediate.register_forward_hook(scale_ffn),
            layer.attention.output.LayerNorm.register_forward_hook(scale_hidden),
            layer.output.LayerNorm.register_forward_hook(scale_hidden),
            layer.register_forward_hook(scale_layer, with_kwargs=True),
        ]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def importance(model, batches: Iterable[dict[str, torch.Tensor]]) -> Importance:
    """Gate-gradient importance of ``model`` (a ``BertForSequenceClassification``) on ``batches``."""
    model.eval()  # no dropout: the gradient should reflect the model, not the noise
    totals, count = None, 0
    with _gates(model.bert) as gates:
        for batch in batches:
            model(**batch).loss.backward()
            grads = {name: gate.grad.abs().clone() for name, gate in gates.items()}
            totals = grads if totals is None else {k: totals[k] + grads[k] for k in totals}
            for gate in gates.values():
                gate.grad = None
            count += 1
    model.zero_grad(set_to_none=True)
    if count == 0:
        raise ValueError("importance needs at least one batch")
    return Importance(**{name: value / count for name, value in totals.items()})


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
    for student_layer, teacher_index, rows, units in zip(s.encoder.layer, selection.layers, selection.attention, selection.ffn):
        source = t.encoder.layer[teacher_index]
        for name in ("query", "key", "value"):
            _copy(getattr(student_layer.attention.self, name).weight, getattr(source.attention.self, name).weight, rows, hidden)
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
