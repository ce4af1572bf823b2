"""The search's sampler and scheduler, as the config names them."""

from __future__ import annotations

import optuna
from ray import tune

from ..config import SearchConfig
from ..keys import EPOCH, SCORE
from .controller import ControllerSampler, budget_reward
from .scheduler import ParetoASHA


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The configured sampler. All but ``random`` read the budgets from the constraints each
    trial carries (see ``ConstrainedOptunaSearch``); the controller folds the first
    latency's into its reward instead, and sees no other cost."""
    s = config.search
    if s.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=s.population_size, seed=s.seed)
    if s.sampler == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, seed=s.seed)
    if s.sampler == "gp":
        return optuna.samplers.GPSampler(seed=s.seed)
    if s.sampler == "controller":
        objectives = config.resolved_objectives()
        first = objectives.latencies[0]
        reward = budget_reward(first.budget, latency_index=objectives.metrics.index(first.metric))
        return ControllerSampler(reward, seed=s.seed)
    return optuna.samplers.RandomSampler(seed=s.seed)


def make_scheduler(config: SearchConfig) -> tune.schedulers.TrialScheduler | None:
    """The configured early-stopping scheduler (None when no trial could be stopped)."""
    s, epochs = config.scheduler, config.training.epochs
    if s.kind == "none" or epochs <= s.grace_period:
        return None
    if s.kind == "pareto_asha":
        objectives = config.resolved_objectives()
        return ParetoASHA(objectives.metrics, objectives.modes, EPOCH, epochs, s.grace_period, s.reduction_factor)
    # Ray's ASHA knows one metric: the score (latency does not change during a trial).
    return tune.schedulers.ASHAScheduler(
        metric=SCORE,
        mode="max",
        time_attr=EPOCH,
        max_t=epochs,
        grace_period=s.grace_period,
        reduction_factor=s.reduction_factor,
    )
