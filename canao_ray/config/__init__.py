"""The search configuration: pydantic sections, read from YAML or a dict, errors as one line."""

from .errors import ConfigError
from .latency import DeviceSettings, LatencySettings, PredictorSettings, RpcSettings
from .objectives import LatencyObjective, PeakMemoryObjective
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
    "DeviceSettings",
    "DistillSettings",
    "FinalizeSettings",
    "LatencyObjective",
    "LatencySettings",
    "PeakMemoryObjective",
    "PredictorSettings",
    "RpcSettings",
    "SchedulerSettings",
    "SearchConfig",
    "SearchSettings",
    "TaskConfig",
    "TeacherSettings",
    "TrainingSettings",
]
