"""The Pareto front of a study, and what happened to its trials."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from search_spaces import ArchSpace

from ..keys import CONSTRAINT_NAME, DUPLICATE_OF, RAY_TRIAL_ID


def pareto_front(study: optuna.Study, space: ArchSpace) -> list[dict]:
    """The feasible Pareto-optimal trials of the study, fastest first.

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
                "score": t.values[0],
                "latency_ms": t.values[1],
            }
        )
    return sorted(front, key=lambda row: row["latency_ms"])


def trial_counts(study: optuna.Study) -> str:
    """One sentence saying what happened to the study's trials."""
    trials = study.get_trials(deepcopy=False)
    duplicates = sum(DUPLICATE_OF in t.user_attrs for t in trials)
    own = [t for t in trials if DUPLICATE_OF not in t.user_attrs]
    done = [t for t in own if t.state == TrialState.COMPLETE]
    over = sum(t.constraints.get(CONSTRAINT_NAME, 0.0) > 0 for t in done)
    pruned = sum(t.state == TrialState.PRUNED for t in own)
    failed = sum(t.state == TrialState.FAIL for t in own)
    return (
        f"Architectures fully evaluated: {len(done)} ({over} over the budget, not trained); "
        f"stopped early by the scheduler: {pruned}; failed: {failed}; "
        f"repeated suggestions, not trained again: {duplicates}."
    )
