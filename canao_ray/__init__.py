"""canao-ray: compiler-aware neural architecture search as a Ray Tune plugin."""

from .config import ConfigError, SearchConfig
from .controller import ControllerSampler, budget_reward
from .hypervolume import HypervolumeHistory, hypervolume
from .scheduler import ParetoASHA
from .searcher import CONSTRAINT_KEY, FINAL_KEY, ConstrainedOptunaSearch

__all__ = [
    "CONSTRAINT_KEY",
    "FINAL_KEY",
    "ConfigError",
    "ConstrainedOptunaSearch",
    "ControllerSampler",
    "HypervolumeHistory",
    "ParetoASHA",
    "SearchConfig",
    "budget_reward",
    "hypervolume",
    "finalize_run",
    "resume_search",
    "run_search",
]


def run_search(config, out_dir, address=None):
    """Run a search; see ``canao_ray.search.run_search`` (imported lazily: it starts Ray)."""
    from .search import run_search as run

    return run(config, out_dir, address)


def resume_search(run_dir, address=None):
    """Finish an interrupted search; see ``canao_ray.search.resume_search``."""
    from .search import resume_search as resume

    return resume(run_dir, address)


def finalize_run(run_dir, archs=None):
    """Train a run's chosen architectures fully and bundle them; see ``canao_ray.finalize``."""
    from .finalize import finalize_run as run

    return run(run_dir, archs)
