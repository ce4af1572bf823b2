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

from ..models import model_parts


@dataclass(frozen=True)
class Importance:
    """Per-unit importance of an encoder (higher: removing it hurts the loss more)."""

    layers: torch.Tensor  # [num_layers]
    heads: torch.Tensor  # [num_layers, num_heads]
    ffn: torch.Tensor  # [num_layers, intermediate_size]
    hidden: torch.Tensor  # [hidden_size]


def _output_tensor(output):
    return output[0] if isinstance(output, tuple) else output


def _with_tensor(output, tensor):
    return (tensor, *output[1:]) if isinstance(output, tuple) else tensor


@contextmanager
def _gates(model) -> Iterator[dict[str, torch.Tensor]]:
    """Gates (all ones, requiring grad) multiplied into ``model``'s units by forward hooks."""
    parts = model_parts(model)
    config = model.config
    layers, heads = len(parts.layers), config.num_attention_heads
    head_dim = config.hidden_size // heads
    shapes = {
        "layers": (layers,),
        "heads": (layers, heads),
        "ffn": (layers, parts.layers[0].ffn_in.out_features),
        "hidden": (config.hidden_size,),
    }
    device = parts.classifier.weight.device
    gates = {name: torch.ones(shape, device=device, requires_grad=True) for name, shape in shapes.items()}
    handles = []

    def scale_hidden(module, args, output):
        return _with_tensor(output, _output_tensor(output) * gates["hidden"])

    handles.append(parts.stream_start.register_forward_hook(scale_hidden))
    for index, layer in enumerate(parts.layers):

        def scale_heads(module, args, index=index):
            return (args[0] * gates["heads"][index].repeat_interleave(head_dim), *args[1:])

        def scale_ffn(module, args, index=index):
            return (args[0] * gates["ffn"][index], *args[1:])

        def scale_layer(module, args, kwargs, output, index=index):
            before = args[0] if args else kwargs["hidden_states"]
            after = _output_tensor(output)
            return _with_tensor(output, before + gates["layers"][index] * (after - before))

        handles += [
            layer.attention_out.register_forward_pre_hook(scale_heads),
            layer.ffn_out.register_forward_pre_hook(scale_ffn),
            layer.attention_norm.register_forward_hook(scale_hidden),
            layer.output_norm.register_forward_hook(scale_hidden),
            layer.block.register_forward_hook(scale_layer, with_kwargs=True),
        ]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def importance(model, batches: Iterable[dict[str, torch.Tensor]]) -> Importance:
    """Gate-gradient importance of ``model`` (a sequence classifier of a supported family) on ``batches``."""
    model.eval()  # no dropout: the gradient should reflect the model, not the noise
    totals, count = None, 0
    with _gates(model) as gates:
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
