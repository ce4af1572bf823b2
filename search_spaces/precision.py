"""The precision a deployed model computes in, a dimension a space may search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import optuna

#: float32, or int8 matmuls (dynamic quantization: int8 weights, activations quantized per call).
Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def suggest_precision(trial: optuna.Trial, choices: Sequence[str]) -> str:
    """The trial's precision: suggested where there is a choice, so a space of one precision
    samples the same parameters as before precision was a dimension."""
    return trial.suggest_categorical("precision", list(choices)) if len(choices) > 1 else choices[0]
