"""canao-ray: compiler-aware neural architecture search as a Ray Tune plugin."""

from .config import ConfigError, SearchConfig
from .scheduler import ParetoASHA
from .searcher import CONSTRAINT_KEY, FINAL_KEY, ConstrainedOptunaSearch

__all__ = [
    "CONSTRAINT_KEY",
    "FINAL_KEY",
    "ConfigError",
    "ConstrainedOptunaSearch",
    "ParetoASHA",
    "SearchConfig",
    "run_search",
]


def run_search(config, out_dir):
    """Run a search; see ``canao_ray.search.run_search`` (imported lazily: it starts Ray)."""
    from .search import run_search as run

    return run(config, out_dir)
