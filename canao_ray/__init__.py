"""canao-ray: compiler-aware neural architecture search as a Ray Tune plugin.

The config and the result keys import at once; the rest (Ray Tune, torch, TVM) on first use.
"""

import importlib

from .config import ConfigError, SearchConfig
from .keys import CONSTRAINT_KEY, FINAL_KEY

_LAZY = {
    "ConstrainedOptunaSearch": "search",
    "ControllerSampler": "search",
    "ParetoASHA": "search",
    "budget_reward": "search",
    "run_search": "search",
    "train_candidate": "search",
    "resume_search": "search",
    "finalize_run": "deploy",
    "load_model": "deploy",
    "HypervolumeHistory": "results",
    "hypervolume": "results",
    "verify_run": "results",
}

__all__ = ["CONSTRAINT_KEY", "FINAL_KEY", "ConfigError", "SearchConfig", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
