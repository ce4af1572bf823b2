"""The architecture value that flows through the whole search."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Arch:
    """A BERT-family encoder shape.

    Frozen and hashable so it can key caches and cross process boundaries as a plain
    dict; ``key`` is stable across runs and Python versions (no ``hash()``).
    """

    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Arch.{field.name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"Arch.hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def key(self) -> str:
        """Stable identifier, e.g. ``L4-H256-A4-I1024``."""
        return f"L{self.num_layers}-H{self.hidden_size}-A{self.num_heads}-I{self.intermediate_size}"

    @classmethod
    def from_key(cls, key: str) -> Arch:
        """The Arch whose ``key`` is ``key`` (e.g. ``L4-H256-A4-I1024``)."""
        match = re.fullmatch(r"L(\d+)-H(\d+)-A(\d+)-I(\d+)", key.strip())
        if not match:
            raise ValueError(f"{key!r} is not an Arch key like 'L4-H256-A4-I1024'")
        return cls(*(int(group) for group in match.groups()))

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

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Arch:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        missing = sorted(names - set(values))
        if unknown or missing:
            raise ValueError(f"an Arch needs exactly the keys {sorted(names)}; unknown: {unknown}, missing: {missing}")
        return cls(**{name: values[name] for name in names})

    def encoder_params(self) -> int:
        """Parameters of the transformer layers (embeddings and head excluded)."""
        h, i = self.hidden_size, self.intermediate_size
        attention = 4 * (h * h + h) + 2 * h  # q, k, v, out projections + layer norm
        ffn = h * i + i + i * h + h + 2 * h
        return self.num_layers * (attention + ffn)

    def encoder_flops(self, seq_len: int, batch: int = 1) -> int:
        """Multiply-add FLOPs (2 per MAC) of one forward pass through the encoder."""
        h, i, s = self.hidden_size, self.intermediate_size, seq_len
        dense = 2 * s * (4 * h * h + 2 * h * i)
        attention = 2 * 2 * s * s * h
        return batch * self.num_layers * (dense + attention)
