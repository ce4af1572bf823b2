"""The metrics a task can be scored with, from scikit-learn and SciPy, as fractions (GLUE
tables print them times 100)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .spec import TaskSpec


def _f1(average: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def score(labels: np.ndarray, predicted: np.ndarray) -> float:
        from sklearn.metrics import f1_score

        return f1_score(labels, predicted, average=average, zero_division=0.0)

    return score


def _accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return accuracy_score(labels, predicted)


def _matthews(labels: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return matthews_corrcoef(labels, predicted)


def _pearson(labels: np.ndarray, scores: np.ndarray) -> float:
    from scipy.stats import pearsonr

    return pearsonr(scores, labels).statistic


def _spearman(labels: np.ndarray, scores: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return spearmanr(scores, labels).statistic


#: Metrics of predicted classes (``f1`` is binary F1 of class 1, as GLUE reports it).
CLASSIFICATION_METRICS = {
    "accuracy": _accuracy,
    "f1": _f1("binary"),
    "macro_f1": _f1("macro"),
    "micro_f1": _f1("micro"),
    "matthews_correlation": _matthews,
}
#: Metrics of predicted scores.
REGRESSION_METRICS = {"pearson": _pearson, "spearmanr": _spearman}
METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)


def task_metrics(task: TaskSpec, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The task's metrics of ``predictions``: logits (``[n, num_labels]``) or, for regression, scores."""
    predictions = np.asarray(predictions, dtype=np.float64)
    labels = np.asarray(labels)
    if task.is_regression:
        scores = predictions.reshape(-1)
        return {name: float(REGRESSION_METRICS[name](labels, scores)) for name in task.metrics}
    predicted = predictions.argmax(-1)
    return {name: float(CLASSIFICATION_METRICS[name](labels, predicted)) for name in task.metrics}


def chance_score(task: TaskSpec, train_labels: np.ndarray, dev_labels: np.ndarray) -> float:
    """The score of a model that knows nothing: the majority training class predicted for
    every dev example, or for regression a correlation of 0."""
    if task.is_regression:
        return 0.0
    majority = np.bincount(np.asarray(train_labels), minlength=task.num_labels).argmax()
    constant = np.eye(task.num_labels)[np.full(len(dev_labels), majority)]
    return task_metrics(task, constant, dev_labels)[task.score_name]
