"""The constrained searcher's bookkeeping, driven the way Tune drives it (no Ray needed)."""

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher

from canao_ray import CONSTRAINT_KEY, ConstrainedOptunaSearch
from canao_ray.keys import DUPLICATE_OF
from search_spaces import Arch, BertSpace


def _searcher(layers=(1, 2), sampler=None):
    space = BertSpace(num_layers=layers, num_heads=(2,), head_dim=(16,), ffn_ratio=(2,))
    return ConstrainedOptunaSearch(
        space=space,
        metric=["accuracy", "latency_ms"],
        mode=["max", "min"],
        sampler=sampler or optuna.samplers.RandomSampler(seed=0),
        max_resamples=20,
    )


def _result(accuracy, latency, over=-0.5, final=True):
    return {"accuracy": accuracy, "latency_ms": latency, CONSTRAINT_KEY: over, "final": final}


def test_repeated_suggestions_are_answered_from_the_earlier_trial():
    searcher = _searcher(layers=(1, 2))
    first = Arch.from_dict(searcher.suggest("a")["arch"])
    searcher.on_trial_complete("a", _result(0.7, 1.0))
    second = Arch.from_dict(searcher.suggest("b")["arch"])
    assert second != first  # the only other point of the space
    searcher.on_trial_complete("b", _result(0.8, 2.0, over=0.5, final=False))  # stopped early
    assert searcher.suggest("c") == Searcher.FINISHED  # both points known: exhausted
    study = searcher._ot_study
    copies = [t for t in study.trials if DUPLICATE_OF in t.user_attrs]
    assert copies
    for copy in copies:
        original = study.trials[copy.user_attrs[DUPLICATE_OF]]
        assert copy.state == original.state
        assert copy.values == original.values and copy.constraints == original.constraints


def test_a_suggestion_repeating_a_running_trial_is_dropped_not_trained_twice():
    """Trials running at once (``max_concurrent_trials`` > 1, or a resumed search rerunning
    the interrupted ones) have no result to answer a repeat with: it is failed, marked."""
    searcher = _searcher(layers=(1, 2))
    first = Arch.from_dict(searcher.suggest("a")["arch"])
    second = Arch.from_dict(searcher.suggest("b")["arch"])  # "a" still running
    assert second != first
    assert searcher.suggest("c") == Searcher.FINISHED  # both points are running
    study = searcher._ot_study
    running = {t.number for t in study.trials if t.state == TrialState.RUNNING}
    assert len(running) == 2
    repeats = [t for t in study.trials if DUPLICATE_OF in t.user_attrs]
    assert repeats and all(t.state == TrialState.FAIL and t.user_attrs[DUPLICATE_OF] in running for t in repeats)
    searcher.on_trial_complete("a", _result(0.7, 1.0))
    assert study.trials[min(running)].state == TrialState.COMPLETE


def test_scheduler_stopped_trials_are_pruned_and_errors_fail():
    searcher = _searcher(layers=(1, 2, 3, 4))
    for trial_id in "abc":
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", _result(0.6, 1.0, final=False))
    searcher.on_trial_complete("b", _result(float("nan"), 1.0))
    searcher.on_trial_complete("c", None, error=True)
    states = [t.state for t in searcher._ot_study.trials]
    assert states == [TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    assert searcher._ot_study.best_trials == []


def test_every_configured_sampler_survives_the_pickling_tune_does():
    """Tune pickles the search algorithm into its experiment state before the first trial;
    an unpicklable sampler fails every search there (Optuna 5.1.0's NSGA-II did)."""
    from ray import cloudpickle

    from canao_ray import SearchConfig
    from canao_ray.config.sections import SAMPLERS
    from canao_ray.search import make_sampler

    for name in SAMPLERS:
        config = SearchConfig.from_dict({"search": {"sampler": name, "seed": 0}})
        cloudpickle.dumps(_searcher(sampler=make_sampler(config)))


def test_a_trial_finished_after_the_last_checkpoint_counts_towards_num_samples(tmp_path):
    """The window the resume test once hit: Tune checkpoints its searcher, a trial starts
    and finishes, the driver dies before the next checkpoint. The restored searcher
    must count that trial (the study holds it), or the resumed search runs one too many."""

    def searcher():
        space = BertSpace(num_layers=(1, 2, 3, 4), num_heads=(2, 4), head_dim=(16,), ffn_ratio=(2,))
        return ConstrainedOptunaSearch(
            space=space, metric=["accuracy", "latency_ms"], mode=["max", "min"],
            sampler=optuna.samplers.RandomSampler(seed=0), storage=optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}"),
            study_name="resume", num_samples=3,
        )  # fmt: skip

    first = searcher()
    for trial_id in ("a", "b"):
        first.suggest(trial_id)
        first.on_trial_complete(trial_id, _result(0.7, 1.0))
    first.save(str(tmp_path / "searcher.pkl"))  # Tune's experiment checkpoint
    first.suggest("c")
    first.on_trial_complete("c", _result(0.8, 2.0))  # then the driver is killed

    resumed = searcher()
    resumed.restore(str(tmp_path / "searcher.pkl"))
    assert resumed.suggest("d") == Searcher.FINISHED
    assert len([t for t in resumed._ot_study.trials if DUPLICATE_OF not in t.user_attrs]) == 3
