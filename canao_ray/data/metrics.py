"""A task's metrics, from scikit-learn and SciPy, as fractions (GLUE tables print them times 100)."""

from __future__ import annotations

import numpy as np

from .spec import TaskSpec


def task_metrics(task: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The task's metrics of ``predictions``: logits (``[n, num_labels]``) or, for regression, scores."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    predictions = np.asarray(predictions, dtype=np.float64)
    labels = np.asarray(labels)
    if task.is_regression:
        scores = predictions.reshape(-1)
        return {
            "pearson": float(pearsonr(scores, labels).statistic),
            "spearmanr": float(spearmanr(scores, labels).statistic),
        }
    predicted = predictions.argmax(-1)
    values = {"accuracy": float(accuracy_score(labels, predicted))}
    if "f1" in task.metrics:
        values["f1"] = float(f1_score(labels, predicted, zero_division=0.0))
    if "matthews_correlation" in task.metrics:
        values["matthews_correlation"] = float(matthews_corrcoef(labels, predicted))
    return values
