"""The Pareto front of a study, and what happened to its trials."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.trial import TrialState

from search_spaces import ArchSpace

from ..keys import DUPLICATE_OF, OBJECTIVES, RAY_TRIAL_ID


def pareto_front(study: optuna.Study, space: ArchSpace, metrics: Sequence[str] = OBJECTIVES) -> list[dict]:
    """The feasible Pareto-optimal trials of the study (over all its objectives, named by
    ``metrics`` in the study's order, score first), ordered by the first cost (the
    latency, by default): each row holds every objective's value under its metric.

    Trials answered from an earlier one with the same params (see the searcher) are left
    out, so each architecture appears once.
    """
    front = []
    for t in study.best_trials:
        if DUPLICATE_OF in t.user_attrs:
            continue
        arch = space.arch(t.params)
        front.append(
            {
                "number": t.number,
                RAY_TRIAL_ID: t.user_attrs.get(RAY_TRIAL_ID),
                "arch_key": arch.key,
                "arch": arch.to_dict(),
                "params": t.params,
                **dict(zip(metrics, t.values)),
            }
        )
    return sorted(front, key=lambda row: row[metrics[1]])


def over_budget(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial broke any of its budgets."""
    return any(value > 0 for value in trial.constraints.values())


def trial_counts(study: optuna.Study) -> str:
    """One sentence saying what happened to the study's trials."""
    trials = study.get_trials(deepcopy=False)
    duplicates = sum(DUPLICATE_OF in t.user_attrs for t in trials)
    own = [t for t in trials if DUPLICATE_OF not in t.user_attrs]
    done = [t for t in own if t.state == TrialState.COMPLETE]
    over = sum(over_budget(t) for t in done)
    pruned = sum(t.state == TrialState.PRUNED for t in own)
    failed = sum(t.state == TrialState.FAIL for t in own)
    return (
        f"Architectures fully evaluated: {len(done)} ({over} over the budget, not trained); "
        f"stopped early by the scheduler: {pruned}; failed: {failed}; "
        f"repeated suggestions, not trained again: {duplicates}."
    )
