"""The model families students are built in, and where a model's units are."""

from .families import (
    ARCH_FIELD,
    FAMILIES,
    Family,
    FamilyError,
    family_of,
    model_parts,
    recorded_arch,
    shape_model,
)
from .parts import LayerParts, ModelParts

__all__ = [
    "ARCH_FIELD",
    "FAMILIES",
    "Family",
    "FamilyError",
    "LayerParts",
    "ModelParts",
    "family_of",
    "model_parts",
    "recorded_arch",
    "shape_model",
]
