"""The uniform BERT search space (every layer one shape) as an Optuna define-by-run function."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from .arch import Arch
from .precision import Precision, suggest_precision

if TYPE_CHECKING:
    import optuna
    import transformers

#: The sampled parameters, in the order they are suggested.
PARAMS = ("num_layers", "num_heads", "head_dim", "ffn_ratio")


class BertSpace(BaseModel):
    """Choices for each dimension of a BERT encoder.

    ``hidden_size`` is built as ``num_heads * head_dim`` and ``intermediate_size`` as
    ``ffn_ratio * hidden_size``, so every sampled point is a valid Arch by construction
    and the operator shapes stay on a small grid that repeats across candidates (which
    is what lets one tuning database serve the whole search).

    Calling the space with an Optuna trial samples an Arch and returns it as the Ray
    Tune config dict; pass the instance as ``OptunaSearch(space=...)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["uniform"] = Field("uniform", description="uniform: every layer the same shape")
    num_layers: tuple[StrictInt, ...] = Field((1, 2, 3, 4), description="encoder depths")
    num_heads: tuple[StrictInt, ...] = Field((2, 4), description="attention heads per layer")
    head_dim: tuple[StrictInt, ...] = Field(
        (16, 32, 64), description="size of each head: hidden size = heads x head size"
    )
    ffn_ratio: tuple[StrictInt, ...] = Field((2, 4), description="FFN width as a multiple of the hidden size")
    precision: tuple[Precision, ...] = Field(
        ("fp32",), min_length=1, description="precisions a model may be deployed in (fp32, int8); two are searched"
    )

    @field_validator(*PARAMS)
    @classmethod
    def _distinct_positive_choices(cls, choices: tuple[int, ...], info) -> tuple[int, ...]:
        name = info.field_name
        if not choices:
            raise ValueError(f"{name} is empty: give at least one choice")
        if any(c <= 0 for c in choices):
            raise ValueError(f"{name} must hold positive integers, got {list(choices)}")
        if len(set(choices)) != len(choices):
            raise ValueError(f"{name} repeats a choice: {list(choices)}")
        return choices

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        arch = self.sample(trial)
        return {"arch": arch.to_dict()}

    def sample(self, trial: optuna.Trial) -> Arch:
        params = {name: trial.suggest_categorical(name, list(getattr(self, name))) for name in PARAMS}
        return self.arch({**params, "precision": suggest_precision(trial, self.precision)})

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The Arch of one point of the space, e.g. an Optuna trial's ``params``."""
        hidden = params["num_heads"] * params["head_dim"]
        arch = Arch.uniform(params["num_layers"], hidden, params["num_heads"], params["ffn_ratio"] * hidden)
        return arch.with_precision(params.get("precision", self.precision[0]))

    def archs(self) -> list[Arch]:
        """Every architecture in the space (it is a small grid by design)."""
        grid = itertools.product(*(getattr(self, name) for name in (*PARAMS, "precision")))
        return sorted(self.arch(dict(zip((*PARAMS, "precision"), point))) for point in grid)

    def shape_representatives(self) -> list[Arch]:
        """One single-layer Arch per distinct layer shape: together they hold every operator
        shape of the space, since depth repeats a layer without adding new shapes."""
        return sorted({Arch(arch.hidden_size, arch.head_dim, arch.layers[:1], arch.precision) for arch in self.archs()})

    def smallest(self) -> Arch:
        """The architecture with the smallest choice in every dimension (int8 where it may
        be): the fastest of the space on any device, since each dimension only adds work."""
        fastest = "int8" if "int8" in self.precision else self.precision[0]
        return self.arch({**{name: min(getattr(self, name)) for name in PARAMS}, "precision": fastest})

    def size(self) -> int:
        return math.prod(len(getattr(self, name)) for name in (*PARAMS, "precision"))


def to_bert_config(
    arch: Arch,
    *,
    vocab_size: int,
    max_position_embeddings: int,
    num_labels: int = 2,
    **overrides: Any,
) -> transformers.BertConfig:
    """The ``transformers.BertConfig`` of an Arch (dropout and the rest left at BERT's defaults).

    A per-layer Arch gets the config of its full-width frame (heads of ``head_dim`` across
    the hidden size, the widest FFN); ``narrow_layers`` then cuts each layer to its shape.
    """
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.hidden_size // arch.head_dim,
        intermediate_size=max(arch.layer_ffn),
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
        **overrides,
    )
