"""The architecture value that flows through the whole search: one shape per encoder layer."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._spelling import ffn_width, layer_entries, per_layer_value
from .precision import PRECISIONS

_UNIFORM_KEY = re.compile(r"L(\d+)-H(\d+)-A(\d+)-I(\d+)")
_LAYERWISE_KEY = re.compile(r"L(\d+)-H(\d+)-D(\d+)-A(\d+(?:\.\d+)*)-I(\d+(?:\.\d+)*)")
#: Keys a dict spelling of an Arch may hold (``Arch.from_dict``).
ARCH_FIELDS = (
    "num_layers", "hidden_size", "head_dim", "num_heads", "intermediate_size", "ffn_ratio", "layers", "precision",
)  # fmt: skip


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Arch.{name} must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class LayerShape:
    """One encoder layer: its attention heads and its FFN width."""

    num_heads: int
    intermediate_size: int


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class Arch:
    """A BERT-family encoder with a shape of its own for every layer.

    The hidden size and the head size are shared by all layers (as in HAT and
    AutoTinyBERT); each layer has its own number of heads and FFN width. A layer's heads
    span at most the hidden size (``num_heads * head_dim <= hidden_size``): candidates are
    built at full width and narrowed. ``Arch.uniform`` builds the classic shape, whose key
    (``L4-H256-A4-I1024``) and dict are those of earlier versions; a per-layer one reads
    ``L3-H384-D32-A12.8.4-I1536.768.768``. Frozen and hashable, so it keys caches; the key
    is stable across runs and Python versions (no ``hash()``).

    ``precision`` is what the deployed model computes in: ``fp32``, or ``int8``, its
    matmuls dynamically quantized (int8 weights, activations quantized per call); an
    int8 Arch's key ends in ``-int8``. Its latency and its score are the quantized model's.
    """

    hidden_size: int
    head_dim: int
    layers: tuple[LayerShape, ...]
    precision: str = "fp32"

    def __post_init__(self) -> None:
        _positive("hidden_size", self.hidden_size)
        _positive("head_dim", self.head_dim)
        if not self.layers:
            raise ValueError("Arch.num_layers must be a positive integer, got 0")
        if self.precision not in PRECISIONS:
            raise ValueError(f"Arch.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.hidden_size % self.head_dim:
            raise ValueError(f"Arch.hidden_size {self.hidden_size} is not divisible by head_dim {self.head_dim}")
        for index, layer in enumerate(self.layers):
            _positive(f"layers[{index}].num_heads", layer.num_heads)
            _positive(f"layers[{index}].intermediate_size", layer.intermediate_size)
            if layer.num_heads * self.head_dim > self.hidden_size:
                raise ValueError(
                    f"Arch layer {index}: {layer.num_heads} heads of {self.head_dim} span "
                    f"{layer.num_heads * self.head_dim}, over the hidden size {self.hidden_size}"
                )

    @classmethod
    def uniform(cls, num_layers: int, hidden_size: int, num_heads: int, intermediate_size: int) -> Arch:
        """``num_layers`` equal layers whose heads split the hidden size (BERT's shape)."""
        _positive("num_layers", num_layers)
        _positive("num_heads", num_heads)
        if hidden_size % num_heads:
            raise ValueError(f"Arch.hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        return cls(hidden_size, hidden_size // num_heads, (LayerShape(num_heads, intermediate_size),) * num_layers)

    @classmethod
    def per_layer(
        cls, hidden_size: int, head_dim: int, num_heads: Sequence[int], intermediate_size: Sequence[int]
    ) -> Arch:
        """One layer per entry of ``num_heads`` and ``intermediate_size`` (equal lengths)."""
        if len(num_heads) != len(intermediate_size):
            raise ValueError(
                f"Arch needs one FFN width per layer: {len(num_heads)} head counts, {len(intermediate_size)} widths"
            )
        return cls(hidden_size, head_dim, tuple(LayerShape(a, i) for a, i in zip(num_heads, intermediate_size)))

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def layer_heads(self) -> tuple[int, ...]:
        return tuple(layer.num_heads for layer in self.layers)

    @property
    def layer_ffn(self) -> tuple[int, ...]:
        return tuple(layer.intermediate_size for layer in self.layers)

    @property
    def is_uniform(self) -> bool:
        """Equal layers whose heads span the hidden size: a shape Hugging Face's configs express."""
        first = self.layers[0]
        return all(layer == first for layer in self.layers) and first.num_heads * self.head_dim == self.hidden_size

    @property
    def num_heads(self) -> int:
        """The heads of every layer; a ``ValueError`` when the layers differ."""
        return self._shared("num_heads", self.layer_heads)

    @property
    def intermediate_size(self) -> int:
        """The FFN width of every layer; a ``ValueError`` when the layers differ."""
        return self._shared("intermediate_size", self.layer_ffn)

    def _shared(self, name: str, values: tuple[int, ...]) -> int:
        if len(set(values)) != 1:
            raise ValueError(f"{self.key} has a different {name} per layer; read it from Arch.layers")
        return values[0]

    def sort_key(self) -> tuple:
        return (self.num_layers, self.hidden_size, self.layer_heads, self.layer_ffn, self.head_dim, self.precision)

    def __lt__(self, other: Arch) -> bool:
        if not isinstance(other, Arch):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    @property
    def key(self) -> str:
        """Stable identifier: ``L4-H256-A4-I1024``, or per layer ``L3-H384-D32-A12.8.4-I1536.768.768``
        (a list that repeats one value is written once), then ``-int8`` for an int8 one."""
        n, h = self.num_layers, self.hidden_size
        suffix = "" if self.precision == "fp32" else f"-{self.precision}"
        if self.is_uniform:
            return f"L{n}-H{h}-A{self.layers[0].num_heads}-I{self.layers[0].intermediate_size}{suffix}"

        def spelled(values: tuple[int, ...]) -> str:
            return str(values[0]) if len(set(values)) == 1 else ".".join(map(str, values))

        return f"L{n}-H{h}-D{self.head_dim}-A{spelled(self.layer_heads)}-I{spelled(self.layer_ffn)}{suffix}"

    def with_precision(self, precision: str) -> Arch:
        """The same shape, deployed in ``precision``."""
        return dataclasses.replace(self, precision=precision)

    @classmethod
    def from_key(cls, key: str) -> Arch:
        """The Arch whose ``key`` is ``key``."""
        key = key.strip()
        shape, _, precision = key.rpartition("-")
        if precision in PRECISIONS:
            return cls.from_key(shape).with_precision(precision)
        if match := _UNIFORM_KEY.fullmatch(key):
            return cls.uniform(*(int(group) for group in match.groups()))
        if match := _LAYERWISE_KEY.fullmatch(key):
            n, h, d = (int(group) for group in match.groups()[:3])
            heads, ffn = ([int(v) for v in group.split(".")] for group in match.groups()[3:])
            heads, ffn = (values * n if len(values) == 1 else values for values in (heads, ffn))
            if len(heads) != n or len(ffn) != n:
                raise ValueError(f"{key!r} names {n} layers but lists {len(heads)} head counts and {len(ffn)} widths")
            return cls.per_layer(h, d, heads, ffn)
        raise ValueError(f"{key!r} is not an Arch key like 'L4-H256-A4-I1024' or 'L2-H384-D32-A12.8-I1536.768'")

    @classmethod
    def parse(cls, text: str) -> Arch:
        """The Arch written as JSON (``{"num_layers": 6, ...}``) or as its key (``L6-H384-A12-I1536``)."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            return cls.from_key(text)
        if not isinstance(values, dict):
            raise ValueError(
                f"{text!r} is neither a JSON object with the Arch fields nor a key like 'L4-H256-A4-I1024'"
            )
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        """``{num_layers, hidden_size, num_heads, intermediate_size}`` for a uniform Arch (as
        earlier versions stored it); per layer, ``head_dim`` too and a list per layer;
        ``precision`` unless it is fp32."""
        precision = {} if self.precision == "fp32" else {"precision": self.precision}
        if self.is_uniform:
            first = self.layers[0]
            return {
                "num_layers": self.num_layers,
                "hidden_size": self.hidden_size,
                "num_heads": first.num_heads,
                "intermediate_size": first.intermediate_size,
                **precision,
            }
        return {
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "head_dim": self.head_dim,
            "num_heads": list(self.layer_heads),
            "intermediate_size": list(self.layer_ffn),
            **precision,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Arch:
        """The Arch a dict spells, in the vocabulary search spaces sample:

        - ``hidden_size`` and ``head_dim`` (shared), ``num_layers``;
        - ``num_heads`` and ``intermediate_size`` (or ``ffn_ratio``, a multiple of the hidden
          size): one value for every layer, or a list with one per layer;
        - ``layers``: a list of ``{num_heads, intermediate_size | ffn_ratio}``, one per
          layer; where it is longer than ``num_layers``, the first ``num_layers`` count;
        - ``precision``: ``fp32`` (left out) or ``int8``.

        Left out, ``head_dim`` is ``hidden_size / num_heads`` (uniform heads),
        ``hidden_size`` is ``num_heads * head_dim``, and ``num_layers`` the length of the
        lists. ``to_dict``'s output reads back to the same Arch.
        """
        unknown = sorted(set(values) - set(ARCH_FIELDS))
        if unknown:
            raise ValueError(f"unknown Arch key(s) {unknown}; an Arch is spelled with {list(ARCH_FIELDS)}")
        layers = layer_entries(values)
        depth = values.get("num_layers", len(layers) if layers is not None else None)
        if depth is None:
            raise ValueError("an Arch needs num_layers (or one entry per layer under layers)")
        depth = _positive("num_layers", depth)
        if layers is not None and len(layers) < depth:
            raise ValueError(f"num_layers is {depth} but layers lists only {len(layers)}")
        layers = (layers or [{}] * depth)[:depth]
        heads = [per_layer_value(values, layer, "num_heads", index, depth) for index, layer in enumerate(layers)]
        head_dim, hidden = values.get("head_dim"), values.get("hidden_size")
        if hidden is None:
            if head_dim is None or len(set(heads)) != 1:
                raise ValueError("an Arch needs hidden_size (or one num_heads for all layers and head_dim)")
            hidden = heads[0] * head_dim
        if head_dim is None:
            if len(set(heads)) != 1:
                raise ValueError("an Arch with a different num_heads per layer needs head_dim")
            if hidden % heads[0]:
                raise ValueError(f"Arch.hidden_size {hidden} is not divisible by num_heads {heads[0]}")
            head_dim = hidden // heads[0]
        ffn = [ffn_width(values, layer, index, depth, hidden) for index, layer in enumerate(layers)]
        return cls.per_layer(hidden, head_dim, heads, ffn).with_precision(values.get("precision", "fp32"))

    def encoder_params(self) -> int:
        """Parameters of the transformer layers (embeddings and head excluded)."""
        h = self.hidden_size
        total = 0
        for layer in self.layers:
            width, ffn = layer.num_heads * self.head_dim, layer.intermediate_size
            attention = 3 * (h * width + width) + width * h + h + 2 * h  # q, k, v, out projections + layer norm
            total += attention + h * ffn + ffn + ffn * h + h + 2 * h
        return total

    def encoder_flops(self, seq_len: int, batch: int = 1) -> int:
        """Multiply-add FLOPs (2 per MAC) of one forward pass through the encoder."""
        h, s = self.hidden_size, seq_len
        total = 0
        for layer in self.layers:
            width = layer.num_heads * self.head_dim
            total += 2 * s * (4 * h * width + 2 * h * layer.intermediate_size) + 2 * 2 * s * s * width
        return batch * total
