"""The BERT search space as an Optuna define-by-run function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .arch import Arch

if TYPE_CHECKING:
    import optuna
    import transformers


@dataclass(frozen=True)
class BertSpace:
    """Choices for each dimension of a BERT encoder.

    ``hidden_size`` is built as ``num_heads * head_dim`` and ``intermediate_size`` as
    ``ffn_ratio * hidden_size``, so every sampled point is a valid Arch by construction
    and the operator shapes stay on a small grid that repeats across candidates (which
    is what lets one tuning database serve the whole search).

    Calling the space with an Optuna trial samples an Arch and returns it as the Ray
    Tune config dict; pass the instance as ``OptunaSearch(space=...)``.
    """

    num_layers: tuple[int, ...] = (1, 2, 3, 4)
    num_heads: tuple[int, ...] = (2, 4)
    head_dim: tuple[int, ...] = (16, 32, 64)
    ffn_ratio: tuple[int, ...] = (2, 4)

    def __post_init__(self) -> None:
        for name in ("num_layers", "num_heads", "head_dim", "ffn_ratio"):
            choices = getattr(self, name)
            if not choices:
                raise ValueError(f"{name} is empty: give at least one choice")
            if any(isinstance(c, bool) or not isinstance(c, int) or c <= 0 for c in choices):
                raise ValueError(f"{name} must hold positive integers, got {list(choices)}")
            if len(set(choices)) != len(choices):
                raise ValueError(f"{name} repeats a choice: {list(choices)}")

    def __call__(self, trial: "optuna.Trial") -> dict[str, Any]:
        arch = self.sample(trial)
        return {"arch": arch.to_dict()}

    def sample(self, trial: "optuna.Trial") -> Arch:
        layers = trial.suggest_categorical("num_layers", list(self.num_layers))
        heads = trial.suggest_categorical("num_heads", list(self.num_heads))
        head_dim = trial.suggest_categorical("head_dim", list(self.head_dim))
        ratio = trial.suggest_categorical("ffn_ratio", list(self.ffn_ratio))
        hidden = heads * head_dim
        return Arch(layers, hidden, heads, ratio * hidden)

    def archs(self) -> list[Arch]:
        """Every architecture in the space (it is a small grid by design)."""
        return sorted(
            Arch(layers, heads * dim, heads, ratio * heads * dim)
            for layers in self.num_layers
            for heads in self.num_heads
            for dim in self.head_dim
            for ratio in self.ffn_ratio
        )

    def size(self) -> int:
        return len(self.num_layers) * len(self.num_heads) * len(self.head_dim) * len(self.ffn_ratio)


def to_bert_config(
    arch: Arch,
    *,
    vocab_size: int,
    max_position_embeddings: int,
    num_labels: int = 2,
    **overrides: Any,
) -> "transformers.BertConfig":
    """The ``transformers.BertConfig`` of an Arch (dropout and the rest left at BERT's defaults)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        intermediate_size=arch.intermediate_size,
        max_position_embeddings=max_position_embeddings,
        num_labels=num_labels,
        **overrides,
    )
