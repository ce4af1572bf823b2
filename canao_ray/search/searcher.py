"""OptunaSearch with the latency budget as an Optuna constraint, and honest trial states."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch
from ray.tune.search.variant_generator import parse_spec_vars

from search_spaces import ARCH_FIELDS, TuneSpace

from ..keys import CONSTRAINT_KEY, CONSTRAINT_NAME, DUPLICATE_OF, FINAL_KEY, RAY_TRIAL_ID, STOPPED_AT

logger = logging.getLogger(__name__)

#: Proposals in a row that only repeat evaluated points, after which the space is taken as exhausted.
MAX_RESAMPLES = 64


def finished_twin(study: optuna.Study, trial: optuna.Trial, same=None) -> optuna.trial.FrozenTrial | None:
    """The earlier finished study trial that ``same(params, params)`` (default: equal params)
    says is ``trial``'s twin, if any (repeats excluded)."""
    same = same or (lambda a, b: a == b)
    for earlier in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if DUPLICATE_OF not in earlier.user_attrs and same(earlier.params, trial.params):
            return earlier
    return None


def answer_from(study: optuna.Study, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial) -> None:
    """Tell ``trial`` what ``earlier`` was told (its constraints, its values or PRUNED), marked a repeat."""
    for name, value in earlier.constraints.items():
        trial.set_constraint(name, value)
    trial.set_user_attr(DUPLICATE_OF, earlier.number)
    if earlier.state == TrialState.PRUNED:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, earlier.values)


class ConstrainedOptunaSearch(OptunaSearch):
    """Multi-objective OptunaSearch that records latency budgets as constraints.

    On top of Ray's OptunaSearch:

    - each budget violation a trial reports (``constraints`` maps its result key to the
      study's constraint name; by default ``CONSTRAINT_KEY``, the one latency budget) is
      stored with ``Trial.set_constraint`` before ``tell``, so constrained samplers
      (NSGA-II, TPE, GP) and ``study.best_trials`` see feasibility;
    - a trial whose last report says ``final: False`` was stopped early by a scheduler:
      it is told PRUNED, so its partly trained accuracy never enters the front (Ray's
      OptunaSearch would tell it COMPLETE);
    - errored trials and NaN objectives become FAIL (Ray's would leave them RUNNING);
    - a resumed search keeps the study as the record: a trial the study already holds
      is not told again, and study trials no restored Tune trial owns become FAIL;
    - an architecture space (a Tune ``param_space`` over ``Arch`` keys, lists included:
      one entry per layer, which Ray's OptunaSearch cannot convert) is sampled
      define-by-run (``TuneSpace``), and the trial's config is the resolved space; a space
      with keys of its own (a user's own model and hyperparameters) is converted as Ray
      converts it;
    - a suggestion whose architecture an earlier finished trial already had is answered from
      that trial (its values, or PRUNED if the scheduler stopped it: Optuna's "skip
      duplicates" recipe) and the sampler asked again, up to ``max_resamples`` times;
      retraining a known architecture teaches the sampler nothing. One repeating a trial
      still running is told FAIL, also marked a repeat. When every attempt repeats, the
      space is taken as exhausted and the searcher returns ``FINISHED``;
    - with ``num_samples`` (Tune's), the searcher also returns ``FINISHED`` once that many
      study trials have a Tune trial. Tune alone counts from its last experiment
      checkpoint: a trial started and finished after it, then the driver killed, is in the
      study but not in the restored experiment, and a resumed search would run one more.
    """

    def __init__(
        self,
        *args,
        max_resamples: int = MAX_RESAMPLES,
        num_samples: int | None = None,
        constraints: Mapping[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.max_resamples = max_resamples
        self.num_samples = num_samples
        self.constraints = dict(constraints if constraints is not None else {CONSTRAINT_KEY: CONSTRAINT_NAME})

    @staticmethod
    def convert_search_space(spec: dict) -> TuneSpace | dict:
        """A space over ``Arch`` keys only as a define-by-run ``TuneSpace`` (Ray's conversion
        refuses lists); any other space as Ray's OptunaSearch converts it."""
        _, domains, grids = parse_spec_vars(spec)
        if grids:
            raise ValueError("tune.grid_search cannot be sampled by Optuna; use tune.choice")
        if not domains:
            return {}
        if set(spec) <= set(ARCH_FIELDS):
            return TuneSpace.from_param_space(spec)
        return OptunaSearch.convert_search_space(spec)

    def _suggest_from_define_by_run_func(self, func, ot_trial):
        if isinstance(func, TuneSpace):  # the resolved space is the whole config, as Tune would sample it
            return func(ot_trial)
        return super()._suggest_from_define_by_run_func(func, ot_trial)

    def _same_arch(self, a: dict, b: dict) -> bool:
        """Whether two points of the space are one architecture (a Tune space may sample
        layers the depth leaves out)."""
        arch = getattr(self._space, "arch", None)
        if arch is None or a == b:
            return a == b
        try:
            return arch(a) == arch(b)
        except (KeyError, ValueError):  # a point of another space (a study reused by hand): compare params
            return False

    def _trials_run(self) -> int:
        """Study trials a Tune trial ran or runs: finished ones carry its id, live ones are ours."""
        numbers = {t.number for t in self._ot_study.get_trials(deepcopy=False) if RAY_TRIAL_ID in t.user_attrs}
        return len(numbers | {ot_trial.number for ot_trial in self._ot_trials.values()})

    def suggest(self, trial_id: str):
        if self.num_samples is not None and self._ot_study is not None and self._trials_run() >= self.num_samples:
            return Searcher.FINISHED
        for _ in range(self.max_resamples):
            config = super().suggest(trial_id)
            proposal = self._ot_trials[trial_id]
            earlier = finished_twin(self._ot_study, proposal, self._same_arch)
            running = self._running_twin(trial_id) if earlier is None else None
            if earlier is None and running is None:
                return config
            del self._ot_trials[trial_id]
            if earlier is not None:
                answer_from(self._ot_study, proposal, earlier)
            else:  # nothing to answer with yet: the repeat is dropped, not trained alongside its twin
                proposal.set_user_attr(DUPLICATE_OF, running.number)
                self._ot_study.tell(proposal, state=TrialState.FAIL)
        logger.warning(
            "the sampler proposed only already-evaluated points %d times in a row: "
            "the search space looks exhausted, ending the search",
            self.max_resamples,
        )
        return Searcher.FINISHED

    def _running_twin(self, trial_id: str) -> optuna.Trial | None:
        """Another live trial with ``trial_id``'s params (several run at once, or a resumed
        search reruns the interrupted ones), if any."""
        params = self._ot_trials[trial_id].params
        return next(
            (t for i, t in self._ot_trials.items() if i != trial_id and self._same_arch(t.params, params)), None
        )

    def restore(self, checkpoint_path: str):
        """Tune's restore, then FAIL the study trials an interrupted driver had asked for
        after its last checkpoint: no Tune trial will ever report them."""
        super().restore(checkpoint_path)
        known = {ot_trial.number for ot_trial in self._ot_trials.values()}
        for orphan in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if orphan.number not in known:
                logger.warning(
                    "study trial %d was asked for by the interrupted driver but never run: marked FAIL", orphan.number
                )
                self._ot_study.tell(orphan.number, state=TrialState.FAIL)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        ot_trial = self._ot_trials[trial_id]
        if self._ot_study.get_trials(deepcopy=False)[ot_trial.number].state.is_finished():
            # Resumed search: Tune reran a trial that ended after its last checkpoint, but
            # the study already holds its result. The first one stands.
            self._completed_trials.add(trial_id)
            return
        ot_trial.set_user_attr(RAY_TRIAL_ID, trial_id)
        values = [None if not result else result.get(m) for m in self.metric]
        broken = any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)
        if error or broken:
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
        elif result.get(FINAL_KEY) is False:
            # Optuna keeps no values for a pruned multi-objective trial: keep them as attributes.
            ot_trial.set_user_attr(STOPPED_AT, dict(zip(self.metric, values)))
            self._ot_study.tell(ot_trial, state=TrialState.PRUNED)
        else:
            for key, name in self.constraints.items():
                if key in result:
                    ot_trial.set_constraint(name, result[key])
            self._ot_study.tell(ot_trial, values)
        self._completed_trials.add(trial_id)
