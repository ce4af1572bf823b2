"""Early stopping by Pareto dominance: asynchronous successive halving over several objectives."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ray.tune.schedulers import FIFOScheduler, TrialScheduler


def nondomination_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Rank 0 for the non-dominated points, 1 for those dominated only by rank 0, ... (minimising)."""

    def dominates(a, b) -> bool:
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    ranks = [-1] * len(points)
    remaining = set(range(len(points)))
    rank = 0
    while remaining:
        front = {i for i in remaining if not any(dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = rank
        remaining -= front
        rank += 1
    return ranks


def crowding_distances(points: Sequence[Sequence[float]], ranks: Sequence[int]) -> list[float]:
    """NSGA-II's crowding distance of each point within its front: the sum over objectives
    of the gap between its two neighbours, relative to the front's range (infinite at a
    front's ends, so the extremes of a trade-off are always the most isolated)."""
    distances = [0.0] * len(points)
    for rank in set(ranks):
        members = [i for i, r in enumerate(ranks) if r == rank]
        for axis in range(len(points[0])):
            ordered = sorted(members, key=lambda i: points[i][axis])
            low, high = points[ordered[0]][axis], points[ordered[-1]][axis]
            distances[ordered[0]] = distances[ordered[-1]] = math.inf
            for before, here, after in zip(ordered, ordered[1:], ordered[2:]):
                if high > low:
                    distances[here] += (points[after][axis] - points[before][axis]) / (high - low)
    return distances


class ParetoASHA(FIFOScheduler):
    """Asynchronous successive halving that promotes by non-dominated sorting.

    Ray's schedulers compare trials on one metric, so ASHA on accuracy stops a small,
    fast candidate for being less accurate than a large, slow one, although both may be
    Pareto-optimal. Here each rung (``grace_period * reduction_factor**k`` epochs) keeps
    the results of every trial that reached it, as points over ``metrics``, ordered as
    NSGA-II orders a population: by non-domination front, then within a front by
    crowding distance, larger first (the multi-objective ASHA of Schmucker et al.,
    2021). A trial continues if fewer than ``ceil(n / reduction_factor)`` of the ``n``
    points in its rung come strictly before it. Without the crowding distance a large
    first front would always continue: when accuracy rises steadily with size, every
    candidate is Pareto-optimal and nothing would ever stop. The two ends of the first
    front (the fastest and the most accurate) are never stopped. Decisions are asynchronous, as in ASHA: a trial is judged against
    the trials that reached the rung before it.

    Use it like any Tune scheduler: ``TuneConfig(scheduler=ParetoASHA(...))``, leaving
    ``metric``/``mode`` off the TuneConfig (they belong to the searcher).
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("score", "latency_ms"),
        modes: Sequence[str] = ("max", "min"),
        time_attr: str = "epoch",
        max_t: int = 4,
        grace_period: int = 1,
        reduction_factor: int = 2,
    ):
        super().__init__()
        if len(metrics) != len(modes) or any(m not in ("min", "max") for m in modes):
            raise ValueError("ParetoASHA needs one mode, 'min' or 'max', per metric")
        if grace_period < 1 or reduction_factor < 2 or max_t <= grace_period:
            raise ValueError("ParetoASHA needs grace_period >= 1, reduction_factor >= 2, max_t > grace_period")
        self._metrics = list(metrics)
        self._signs = [-1.0 if mode == "max" else 1.0 for mode in modes]
        self._time_attr = time_attr
        self._reduction_factor = reduction_factor
        milestones = []
        milestone = grace_period
        while milestone < max_t:
            milestones.append(milestone)
            milestone *= reduction_factor
        self._rungs: dict[int, dict[str, tuple[float, ...]]] = {m: {} for m in milestones}
        self._num_stopped = 0

    def set_search_properties(self, metric, mode, **spec) -> bool:
        # Objectives are fixed at construction; accept Tune's call without a metric.
        return metric is None and mode is None

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self._time_attr not in result or any(m not in result for m in self._metrics):
            return TrialScheduler.CONTINUE
        reached = [m for m, rung in self._rungs.items() if m <= result[self._time_attr] and trial.trial_id not in rung]
        if not reached:
            return TrialScheduler.CONTINUE
        point = tuple(sign * float(result[m]) for sign, m in zip(self._signs, self._metrics))
        for milestone in reached:
            self._rungs[milestone][trial.trial_id] = point
        decision = self._decide(self._rungs[max(reached)], trial.trial_id)
        if decision == TrialScheduler.STOP:
            self._num_stopped += 1
        return decision

    def _decide(self, rung: dict[str, tuple[float, ...]], trial_id: str) -> str:
        ids = list(rung)
        points = [rung[i] for i in ids]
        ranks = nondomination_ranks(points)
        crowding = crowding_distances(points, ranks)
        mine = ids.index(trial_id)
        better = sum(
            rank < ranks[mine] or (rank == ranks[mine] and distance > crowding[mine])
            for rank, distance in zip(ranks, crowding)
        )
        keep = math.ceil(len(ids) / self._reduction_factor)
        return TrialScheduler.CONTINUE if better < keep else TrialScheduler.STOP

    def debug_string(self) -> str:
        rungs = ", ".join(f"{m}: {len(r)}" for m, r in self._rungs.items())
        return f"Using ParetoASHA over {self._metrics}: num_stopped={self._num_stopped}; rungs {{{rungs}}}"
