"""How much each unit of the teacher matters, after Michel et al. (2019, "Are Sixteen Heads
Really Better than One?"): every layer, attention head, FFN unit and hidden dimension of
the residual stream gets a gate fixed at 1, and its importance is the mean absolute
gradient of the task loss with respect to that gate over a few batches of task data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


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
