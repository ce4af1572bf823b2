"""Hypervolume of a front: the area (volume) it dominates up to a reference point.

With (worst score, latency budget) as the point, a front gains area by being more accurate,
faster, or both, and a trial over the budget adds nothing: one number that only grows as
a search improves. Every further objective adds a dimension. Optuna computes it but has no public API for it; this module is the one
place that imports its private one (``tests/test_hypervolume.py`` pins its behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from optuna._hypervolume import compute_hypervolume

#: A reference component left open sits this share of the worst value beyond it.
NADIR_MARGIN = 0.1


def hypervolume(points: Sequence[Sequence[float]], modes: Sequence[str], reference: Sequence[float | None]) -> float:
    """Volume dominated by ``points`` and bounded by ``reference``, in as many dimensions as
    there are ``modes`` (each says whether larger, "max", or smaller, "min", is better). A
    None component of ``reference`` is the worst value among the points within the given
    components, moved ``NADIR_MARGIN`` of itself further, so that each of them adds volume."""
    signs = np.array([-1.0 if mode == "max" else 1.0 for mode in modes])
    losses = np.asarray(points, dtype=float).reshape(-1, len(modes)) * signs
    given = np.array([r is not None for r in reference])
    ref = np.array([r * sign if r is not None else np.inf for r, sign in zip(reference, signs)])
    inside = losses[np.all(losses[:, given] < ref[given], axis=1)]
    if not len(inside):
        return 0.0
    worst = inside.max(axis=0)
    ref = np.where(given, ref, worst + NADIR_MARGIN * np.abs(worst))
    return float(compute_hypervolume(inside, ref))
