"""The search on Ray Tune: the constrained multi-objective searcher, ParetoASHA, the controller sampler, the trainable, the assembly."""

from .controller import ControllerSampler, budget_reward
from .pretune import pretune
from .run import resume_search, run_search
from .samplers import make_sampler, make_scheduler
from .scheduler import ParetoASHA, crowding_distances, nondomination_ranks
from .searcher import MAX_RESAMPLES, ConstrainedOptunaSearch, answer_from, finished_twin
from .trainable import train_candidate

__all__ = [
    "MAX_RESAMPLES",
    "ConstrainedOptunaSearch",
    "ControllerSampler",
    "ParetoASHA",
    "answer_from",
    "budget_reward",
    "crowding_distances",
    "finished_twin",
    "make_sampler",
    "make_scheduler",
    "nondomination_ranks",
    "pretune",
    "resume_search",
    "run_search",
    "train_candidate",
]
