"""Cut a full-width transformers encoder down to an Arch's shape, layer by layer.

Hugging Face configs give every layer the same heads and FFN width, so a per-layer Arch is
built as its full-width frame (``to_bert_config`` or a family's config) and each layer's
projections are then narrowed in place to its own heads and FFN units. The kept rows are
the first ones: in a fresh model they are as good as any, and inheritance copies the
teacher's chosen units into exactly those positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .arch import Arch

#: Linear modules of one encoder layer of every BERT-line family, in registration order:
#: query, key, value, attention output, FFN in, FFN out.
LAYER_LINEARS = 6


@torch.no_grad()
def narrow_linear(linear: nn.Linear, *, out_features: int | None = None, in_features: int | None = None) -> None:
    """Keep the first ``out_features`` outputs and ``in_features`` inputs of ``linear``, in place."""
    rows = out_features or linear.out_features
    cols = in_features or linear.in_features
    if rows > linear.out_features or cols > linear.in_features:
        raise ValueError(f"cannot widen a {linear.in_features}->{linear.out_features} projection to {cols}->{rows}")
    linear.weight = nn.Parameter(linear.weight[:rows, :cols].clone())
    if linear.bias is not None:
        linear.bias = nn.Parameter(linear.bias[:rows].clone())
    linear.out_features, linear.in_features = rows, cols


def layer_linears(block: nn.Module) -> list[nn.Linear]:
    """The six projections of an encoder layer (query, key, value, attention out, FFN in, FFN out)."""
    linears = [module for module in block.modules() if isinstance(module, nn.Linear)]
    if len(linears) != LAYER_LINEARS:
        raise ValueError(f"an encoder layer of {type(block).__name__} has {len(linears)} linear modules, not 6")
    return linears


def shape_layers(blocks: Sequence[nn.Module], arch: Arch) -> None:
    """Narrow each encoder layer in ``blocks`` (built at full width) to its shape in ``arch``."""
    if len(blocks) != arch.num_layers:
        raise ValueError(f"{arch.key} has {arch.num_layers} layers, the model {len(blocks)}")
    if arch.is_uniform:
        return
    for block, shape in zip(blocks, arch.layers):
        query, key, value, attention_out, ffn_in, ffn_out = layer_linears(block)
        width = shape.num_heads * arch.head_dim
        for projection in (query, key, value):
            narrow_linear(projection, out_features=width)
        narrow_linear(attention_out, in_features=width)
        narrow_linear(ffn_in, out_features=shape.intermediate_size)
        narrow_linear(ffn_out, in_features=shape.intermediate_size)
        for module in block.modules():  # the attention module's own head count, where it keeps one
            for name, value in (("num_attention_heads", shape.num_heads), ("n_heads", shape.num_heads),
                                ("all_head_size", width)):  # fmt: skip
                if isinstance(getattr(module, name, None), int):
                    setattr(module, name, value)


def bert_classifier(arch: Arch, *, vocab_size: int, max_position_embeddings: int, num_labels: int = 2):
    """A freshly initialised ``BertForSequenceClassification`` of ``arch`` (per-layer shapes included)."""
    from transformers import BertForSequenceClassification

    from .bert import to_bert_config

    config = to_bert_config(
        arch, vocab_size=vocab_size, max_position_embeddings=max_position_embeddings, num_labels=num_labels
    )
    model = BertForSequenceClassification(config)
    shape_layers(model.bert.encoder.layer, arch)
    return model
