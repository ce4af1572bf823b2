"""Hypervolume of a front: the area (volume) it dominates up to a reference point.

With (worst score, latency budget) as the point, a front gains area by being more accurate,
faster, or both, and a trial over the budget adds nothing: one number that only grows as
a search improves. Optuna computes it but has no public API for it; this module is the one
place that imports its private one (``tests/test_hypervolume.py`` pins its behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from optuna._hypervolume import compute_hypervolume


def hypervolume(points: Sequence[Sequence[float]], modes: Sequence[str], reference: Sequence[float]) -> float:
    """Area (volume) dominated by ``points`` and bounded by ``reference``; ``modes`` says per
    objective whether larger ("max") or smaller ("min") is better."""
    signs = np.array([-1.0 if mode == "max" else 1.0 for mode in modes])
    losses = np.asarray(points, dtype=float).reshape(-1, len(modes)) * signs
    ref = np.asarray(reference, dtype=float) * signs
    inside = losses[np.all(losses < ref, axis=1)]
    return float(compute_hypervolume(inside, ref)) if len(inside) else 0.0
