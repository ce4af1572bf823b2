"""OptunaSearch with the latency budget as an Optuna constraint, and honest trial states."""

from __future__ import annotations

import math

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

#: Result key holding ``latency_ms - budget_ms``: feasible when <= 0 (Optuna's convention).
CONSTRAINT_KEY = "latency_over_budget_ms"


class ConstrainedOptunaSearch(OptunaSearch):
    """Multi-objective OptunaSearch that records the latency budget as a constraint.

    Ray's OptunaSearch tells COMPLETE for errored trials that reported once and fails
    on NaN, leaving the Optuna trial RUNNING; here those become FAIL, and the
    constraint is set with ``Trial.set_constraint`` before ``tell`` so constrained
    samplers (NSGA-II, TPE, GP) and ``study.best_trials`` see feasibility.
    """

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        ot_trial = self._ot_trials[trial_id]
        values = [None if not result else result.get(m) for m in self.metric]
        broken = any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)
        if error or broken:
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            self._completed_trials.add(trial_id)
            return
        if CONSTRAINT_KEY in result:
            ot_trial.set_constraint("latency_budget", result[CONSTRAINT_KEY])
        ot_trial.set_user_attr("ray_trial_id", trial_id)
        super().on_trial_complete(trial_id, result, error)
