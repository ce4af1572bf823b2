"""canao-ray: compiler-aware neural architecture search as a Ray Tune plugin."""

from .config import ConfigError, SearchConfig
from .searcher import CONSTRAINT_KEY, ConstrainedOptunaSearch

__all__ = ["CONSTRAINT_KEY", "ConfigError", "ConstrainedOptunaSearch", "SearchConfig", "run_search"]


def run_search(config, out_dir):
    """Run a search; see ``canao_ray.search.run_search`` (imported lazily: it starts Ray)."""
    from .search import run_search as run

    return run(config, out_dir)
