"""The model families students are built in, and where a model's units are."""

from .families import FAMILIES, Family, FamilyError, family_of, model_parts
from .parts import LayerParts, ModelParts

__all__ = ["FAMILIES", "Family", "FamilyError", "LayerParts", "ModelParts", "family_of", "model_parts"]
