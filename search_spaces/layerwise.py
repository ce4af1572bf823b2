"""A per-layer search space, define-by-run: depth first, then a shape for each layer that exists."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from .arch import Arch, LayerShape
from .precision import Precision, suggest_precision

if TYPE_CHECKING:
    import optuna


def layer_param(group: int, name: str) -> str:
    """The Optuna name of a group's choice, as Ray names a nested Tune space: ``layers/0/num_heads``."""
    return f"layers/{group}/{name}"


class LayerwiseSpace(BaseModel):
    """Choices of depth, hidden size and head size, then of heads and FFN width per layer.

    Layers are chosen in groups of ``group_size`` consecutive layers (1: every layer its
    own shape); only the groups the sampled depth has are suggested, so a point names
    exactly one architecture. Each layer's FFN width is ``ffn_ratio * hidden_size``.
    Every layer shape repeats across candidates (a grid of ``hidden x heads x ratio``), so
    one tuning database still serves the whole search.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["per_layer"] = Field(description="per_layer: a shape for each layer (or group of layers)")
    num_layers: tuple[StrictInt, ...] = Field((2, 3, 4), description="encoder depths")
    hidden_size: tuple[StrictInt, ...] = Field((256,), description="hidden sizes, shared by all layers")
    head_dim: tuple[StrictInt, ...] = Field((32,), description="head sizes, shared by all layers")
    num_heads: tuple[StrictInt, ...] = Field((2, 4, 8), description="attention heads, chosen per layer")
    ffn_ratio: tuple[StrictInt, ...] = Field(
        (2, 4), description="FFN width as a multiple of the hidden size, per layer"
    )
    group_size: StrictInt = Field(1, ge=1, description="consecutive layers that share one choice")
    precision: tuple[Precision, ...] = Field(
        ("fp32",), min_length=1, description="precisions a model may be deployed in (fp32, int8); two are searched"
    )

    @field_validator("num_layers", "hidden_size", "head_dim", "num_heads", "ffn_ratio")
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

    @model_validator(mode="after")
    def _every_point_is_an_arch(self) -> LayerwiseSpace:
        for hidden, head_dim in itertools.product(self.hidden_size, self.head_dim):
            if hidden % head_dim:
                raise ValueError(f"hidden_size {hidden} is not a multiple of head_dim {head_dim}")
            if max(self.num_heads) * head_dim > hidden:
                raise ValueError(
                    f"{max(self.num_heads)} heads of {head_dim} span {max(self.num_heads) * head_dim}, over "
                    f"hidden_size {hidden}: lower num_heads or head_dim, or raise hidden_size"
                )
        return self

    def groups(self, depth: int) -> int:
        return -(-depth // self.group_size)

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"arch": self.sample(trial).to_dict()}

    def sample(self, trial: optuna.Trial) -> Arch:
        params: dict[str, int] = {
            name: trial.suggest_categorical(name, list(getattr(self, name)))
            for name in ("num_layers", "hidden_size", "head_dim")
        }
        for group in range(self.groups(params["num_layers"])):
            for name in ("num_heads", "ffn_ratio"):
                params[layer_param(group, name)] = trial.suggest_categorical(
                    layer_param(group, name), list(getattr(self, name))
                )
        return self.arch({**params, "precision": suggest_precision(trial, self.precision)})

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The Arch of one point of the space (an Optuna trial's ``params``)."""
        hidden = params["hidden_size"]
        layers = []
        for layer in range(params["num_layers"]):
            group = layer // self.group_size
            heads, ratio = (params[layer_param(group, name)] for name in ("num_heads", "ffn_ratio"))
            layers.append(LayerShape(heads, ratio * hidden))
        return Arch(hidden, params["head_dim"], tuple(layers), params.get("precision", self.precision[0]))

    def shape_representatives(self) -> list[Arch]:
        """One single-layer Arch per distinct layer shape of the space."""
        grid = itertools.product(self.hidden_size, self.head_dim, self.num_heads, self.ffn_ratio, self.precision)
        return sorted(Arch(h, d, (LayerShape(a, r * h),), p) for h, d, a, r, p in grid)

    def smallest(self) -> Arch:
        """The shallowest, narrowest point (int8 where it may be): the fastest of the space
        on any device."""
        hidden, heads = min(self.hidden_size), min(self.num_heads)
        layer = LayerShape(heads, min(self.ffn_ratio) * hidden)
        fastest = "int8" if "int8" in self.precision else self.precision[0]
        return Arch(hidden, min(self.head_dim), (layer,) * min(self.num_layers), fastest)
