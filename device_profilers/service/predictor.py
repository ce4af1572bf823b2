"""A latency model learned online from one device's measurements, with its uncertainty.

An encoder's latency is close to a sum of per-operator costs, each growing with a known
product of shapes (``s*h*h`` for a projection, ``s*s*h`` for attention scores, ``s*h*f``
for the FFN...). So the model is linear in those products, fitted by weighted least
squares for relative error, with a small ridge term for stability on few points; its
spread combines the residual noise with the weights' uncertainty (Bayesian linear
regression with a nearly flat prior).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from search_spaces import Arch


def shape_features(arch: Arch, batch: int, seq_len: int) -> np.ndarray:
    """Operator-shape products whose weighted sum approximates the latency of ``arch``: per
    layer with its attention width ``w`` (heads x head size) and FFN width ``f``, summed."""
    s, h = seq_len, arch.hidden_size
    per_layer = np.zeros(5)
    for layer in arch.layers:
        w, f, a = layer.num_heads * arch.head_dim, layer.intermediate_size, layer.num_heads
        per_layer += [s * h * w, s * s * w, s * h * f, s * (h + f), a * s * s]
    return np.array([*(batch * per_layer), batch * s * h, 1.0])


@dataclass(frozen=True)
class Prediction:
    """A predicted latency and its spread, from ``measurements`` distinct architectures."""

    median_ms: float
    relative_std: float  # one standard deviation, as a fraction of ``median_ms``
    measurements: int

    def surely_over(self, budget_ms: float, z: float) -> bool:
        """True when even ``z`` standard deviations below the prediction exceed the budget."""
        return self.median_ms * (1 - z * self.relative_std) > budget_ms


class LatencyPredictor:
    """Learns ``arch -> latency`` for one device, backend, batch and sequence length."""

    #: One more than the model's 7 coefficients: with fewer points the fit passes through
    #: every one of them and its error, hence the spread, reads zero.
    MIN_MEASUREMENTS = 8
    #: Ridge term of the least-squares fit, relative to features scaled to at most 1.
    RIDGE = 1e-3

    def __init__(self, batch: int, seq_len: int, min_measurements: int = MIN_MEASUREMENTS):
        self.batch, self.seq_len = batch, seq_len
        self.min_measurements = min_measurements
        self._points: dict[str, tuple[np.ndarray, float]] = {}
        self._fit: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None

    def add(self, arch: Arch, median_ms: float) -> None:
        self._points[arch.key] = (shape_features(arch, self.batch, self.seq_len), median_ms)
        self._fit = None

    def __len__(self) -> int:
        return len(self._points)

    def predict(self, arch: Arch) -> Prediction | None:
        """The predicted latency, or None until ``min_measurements`` distinct archs were seen."""
        if len(self._points) < self.min_measurements:
            return None
        if self._fit is None:
            self._fit = self._solve()
        scale, weights, covariance, noise = self._fit
        x = shape_features(arch, self.batch, self.seq_len) / scale
        median = max(float(x @ weights), 1e-6)
        relative = x / median
        spread = math.sqrt(noise * (1 + float(relative @ covariance @ relative)))
        return Prediction(median, spread, len(self._points))

    def _solve(self):
        features = np.stack([x for x, _ in self._points.values()])
        targets = np.array([y for _, y in self._points.values()])
        scale = np.maximum(np.abs(features).max(axis=0), 1e-12)
        rows = features / scale / targets[:, None]  # each row divided by its latency: relative errors
        gram = rows.T @ rows + self.RIDGE * np.eye(rows.shape[1])
        covariance = np.linalg.inv(gram)
        weights = covariance @ rows.T @ np.ones(len(targets))
        residuals = rows @ weights - 1.0
        dof = max(len(targets) - rows.shape[1], 1)
        noise = float(residuals @ residuals) / dof
        return scale, weights, covariance, noise
