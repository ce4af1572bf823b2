"""The Pareto front and its hypervolume by brute force, to check the real ones against."""

import itertools

import numpy as np


def _dominates(a, b, signs) -> bool:
    a, b = np.asarray(a) * signs, np.asarray(b) * signs
    return bool(np.all(a <= b) and np.any(a < b))


def brute_front(points, feasible, modes):
    """Indices of the feasible points no feasible point dominates."""
    signs = np.array([-1.0 if m == "max" else 1.0 for m in modes])
    ok = [i for i in range(len(points)) if feasible[i]]
    return {i for i in ok if not any(_dominates(points[j], points[i], signs) for j in ok if j != i)}


def brute_hypervolume(points, modes, reference) -> float:
    """Inclusion-exclusion over every subset of the points' boxes (each box spans a point
    to the reference; the intersection of boxes is a box)."""
    signs = np.array([-1.0 if m == "max" else 1.0 for m in modes])
    losses = np.asarray(points, dtype=float) * signs
    ref = np.asarray(reference, dtype=float) * signs
    losses = losses[np.all(losses < ref, axis=1)]
    total = 0.0
    for size in range(1, len(losses) + 1):
        for subset in itertools.combinations(losses, size):
            corner = np.max(subset, axis=0)
            total += (-1) ** (size + 1) * float(np.prod(np.clip(ref - corner, 0, None)))
    return total
