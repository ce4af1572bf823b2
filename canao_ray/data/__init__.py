"""What candidates learn from: the embedded task, GLUE tasks, their metrics, tokenised splits."""

from .embedded import EMBEDDED_TASK
from .glue import GLUE_TASKS, GlueDataError, load_glue
from .metrics import task_metrics
from .spec import TaskSpec
from .task_data import TaskData, batches, load_task

__all__ = [
    "EMBEDDED_TASK",
    "GLUE_TASKS",
    "GlueDataError",
    "TaskData",
    "TaskSpec",
    "batches",
    "load_glue",
    "load_task",
    "task_metrics",
]
