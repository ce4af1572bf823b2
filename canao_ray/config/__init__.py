"""The search configuration: pydantic sections, read from YAML or a dict, errors as one line."""

from .errors import ConfigError
from .latency import LatencySettings, PredictorSettings, RpcSettings
from .search_config import SearchConfig
from .sections import (
    DistillSettings,
    FinalizeSettings,
    SchedulerSettings,
    SearchSettings,
    TaskConfig,
    TeacherSettings,
    TrainingSettings,
)

__all__ = [
    "ConfigError",
    "DistillSettings",
    "FinalizeSettings",
    "LatencySettings",
    "PredictorSettings",
    "RpcSettings",
    "SchedulerSettings",
    "SearchConfig",
    "SearchSettings",
    "TaskConfig",
    "TeacherSettings",
    "TrainingSettings",
]
