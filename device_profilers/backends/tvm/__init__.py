"""The TVM backend: relax lowering, MetaSchedule tuning with a persistent database per device, compiled timing."""

from .compiler import TvmBackend
from .runtime import set_runtime_threads

__all__ = ["TvmBackend", "set_runtime_threads"]
