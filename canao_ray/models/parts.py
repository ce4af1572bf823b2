"""Where a classifier's units are: the modules importance gates and inheritance copies.

Every family of the BERT line has the same units under different names: token tables and
a LayerNorm feeding the residual stream, then per layer query/key/value projections, an
attention output projection whose input is the heads side by side, a LayerNorm, an FFN
whose second projection's input is the FFN units, another LayerNorm, and a head of a
hidden-to-hidden projection and a hidden-to-labels one. A family says where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class LayerParts:
    """One encoder layer's units."""

    block: nn.Module  # the whole layer: its first input and its output are the residual stream
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attention_out: nn.Linear  # its input: the heads' contexts side by side
    attention_norm: nn.LayerNorm
    ffn_in: nn.Linear
    ffn_out: nn.Linear  # its input: the FFN units
    output_norm: nn.LayerNorm


@dataclass(frozen=True)
class ModelParts:
    """A sequence classifier's units, embeddings to head."""

    embeddings: tuple[nn.Embedding, ...]  # word, position, and token-type tables where the family has them
    embedding_norm: nn.LayerNorm
    projection: nn.Linear | None  # ELECTRA's embedding-to-hidden projection, where embeddings are narrower
    layers: tuple[LayerParts, ...]
    pooler: nn.Linear | None  # the head's hidden-to-hidden projection
    classifier: nn.Linear  # hidden to labels

    @property
    def stream_start(self) -> nn.Module:
        """The module whose output is the residual stream entering the first layer."""
        return self.projection if self.projection is not None else self.embedding_norm
