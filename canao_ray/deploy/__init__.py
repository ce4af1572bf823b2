"""Phase two: the chosen architectures trained fully, and deployable bundles checked against PyTorch."""

from ..teacher.sources import load_classifier as load_model
from .bundle import write_bundle
from .finalize import FINAL_DIR, chosen_archs, finalize_run

__all__ = ["FINAL_DIR", "chosen_archs", "finalize_run", "load_model", "write_bundle"]
