"""What candidates learn from: a task's splits read, checked and tokenised, its presets, its metrics."""

from .errors import TaskDataError
from .metrics import METRICS, chance_score, task_metrics
from .presets import EMBEDDED_TASK, TASK_PRESETS
from .spec import TaskSpec
from .splits import Splits, load_splits, resolved_labels
from .task_data import TaskData, batches, load_task

__all__ = [
    "EMBEDDED_TASK",
    "METRICS",
    "TASK_PRESETS",
    "Splits",
    "TaskData",
    "TaskDataError",
    "TaskSpec",
    "batches",
    "chance_score",
    "load_splits",
    "load_task",
    "resolved_labels",
    "task_metrics",
]
