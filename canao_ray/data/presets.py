"""Tasks by name: the embedded task and the GLUE tasks, each a preset of a task's settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .embedded import EMBEDDED_PRESET, EMBEDDED_TASK
from .glue import GLUE_PRESETS

TASK_KINDS = ("classification", "regression")
TASK_PRESETS: Mapping[str, Mapping[str, Any]] = {EMBEDDED_TASK: EMBEDDED_PRESET, **GLUE_PRESETS}

__all__ = ["EMBEDDED_TASK", "TASK_KINDS", "TASK_PRESETS"]
