"""The RL controller as an Optuna sampler: it learns, it resumes from storage, and it
drives the constrained searcher the way Tune does (no Ray needed)."""

import statistics

import optuna
import pytest

from canao_ray import CONSTRAINT_KEY, ConstrainedOptunaSearch, ControllerSampler, budget_reward
from search_spaces import Arch, BertSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial):
    a = trial.suggest_categorical("a", [1, 2, 3, 4, 5])
    b = trial.suggest_categorical("b", [1, 2, 3, 4, 5])
    c = trial.suggest_int("c", 0, 4)
    return -((a - 4) ** 2 + (b - 2) ** 2 + (c - 1) ** 2)


def _late_mean(sampler, trials=100, storage=None):
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage, study_name="s")
    study.optimize(_objective, n_trials=trials)
    return statistics.fmean(t.value for t in study.trials[-25:])


def test_controller_learns_where_random_search_does_not():
    controller = statistics.fmean(_late_mean(ControllerSampler(seed=s)) for s in range(2))
    random = statistics.fmean(_late_mean(optuna.samplers.RandomSampler(seed=s)) for s in range(2))
    assert controller > random + 4, (controller, random)  # random's mean is about -10, the optimum 0


def test_a_fresh_controller_on_a_stored_study_learns_from_its_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    _late_mean(ControllerSampler(seed=0), trials=100, storage=storage)
    study = optuna.load_study(study_name="s", storage=storage, sampler=ControllerSampler(seed=1))
    study.optimize(_objective, n_trials=20)
    assert statistics.fmean(t.value for t in study.trials[-20:]) > -4


def test_the_same_seed_gives_the_same_trials_whatever_torch_drew_before():
    import torch

    runs = []
    for draws in (0, 5):
        torch.rand(draws)  # the global generator moves between the two runs
        study = optuna.create_study(direction="maximize", sampler=ControllerSampler(seed=3))
        study.optimize(_objective, n_trials=30)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_multi_objective_study_needs_a_reward():
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=ControllerSampler(seed=0))
    study.optimize(lambda t: (t.suggest_categorical("x", [1, 2]), 1.0), n_trials=1)
    with pytest.raises(ValueError, match="needs a reward function"):
        study.optimize(lambda t: (t.suggest_categorical("x", [1, 2]), 1.0), n_trials=1)


def test_budget_reward_keeps_the_score_within_budget_and_decays_past_it():
    reward = budget_reward(10.0)
    trial = optuna.trial.create_trial(values=[0.9, 5.0], params={}, distributions={})
    assert reward(trial) == pytest.approx(0.9)
    trial = optuna.trial.create_trial(values=[0.9, 20.0], params={}, distributions={})
    assert reward(trial) == pytest.approx(0.9 * 0.5**0.07)


def _controlled_search(space: BertSpace, budget_ms: float) -> ConstrainedOptunaSearch:
    """The searcher a search with the controller sampler builds, rewarding within ``budget_ms``."""
    return ConstrainedOptunaSearch(
        space=space,
        metric=["score", "latency_ms"],
        mode=["max", "min"],
        sampler=ControllerSampler(budget_reward(budget_ms), seed=0),
    )


def test_controller_plugs_into_the_constrained_searcher():
    space = BertSpace(num_layers=(1, 2, 3, 4, 5, 6), num_heads=(2, 4), head_dim=(16,), ffn_ratio=(2,))
    searcher = _controlled_search(space, budget_ms=4.0)
    seen = []
    for index in range(30):
        config = searcher.suggest(str(index))
        if not isinstance(config, dict):
            break
        arch = Arch.from_dict(config["arch"])
        latency = float(arch.num_layers * arch.num_heads) / 2  # budget 4 ms: layers * heads <= 8
        score = 0.5 + 0.05 * arch.num_layers if latency <= 4.0 else 0.0
        searcher.on_trial_complete(
            str(index), {"score": score, "latency_ms": latency, CONSTRAINT_KEY: latency - 4.0, "final": True}
        )
        seen.append(arch)
    assert Arch.uniform(4, 32, 2, 64) in seen  # the best feasible point of the space
    assert len(set(seen)) == len(seen)  # repeats are answered by the searcher, not retrained


def test_a_controller_sure_of_its_best_arch_still_proposes_new_ones():
    """Repeats answered by the searcher are rewarded as the worst trial so far: rewarded as
    the arch they repeat, they taught the policy to repeat it, and the searcher ended the
    search after 64 repeats in a row with most of the space unseen."""
    space = BertSpace(num_layers=(1, 2, 3, 4, 5, 6), num_heads=(2, 4), head_dim=(16,), ffn_ratio=(2, 4))
    searcher = _controlled_search(space, budget_ms=100.0)
    seen = []
    for index in range(len(space.archs())):
        config = searcher.suggest(str(index))
        if not isinstance(config, dict):
            break
        arch = Arch.from_dict(config["arch"])
        score = 1.0 if arch == Arch.uniform(1, 32, 2, 64) else 0.5  # one arch far ahead of the rest
        searcher.on_trial_complete(
            str(index), {"score": score, "latency_ms": 1.0, CONSTRAINT_KEY: -99.0, "final": True}
        )
        seen.append(arch)
    assert len(seen) == len(space.archs()), f"the search ended after {len(seen)} of {len(space.archs())} archs"


def test_with_two_trials_in_flight_the_controller_trains_no_arch_twice():
    """Tune with ``max_concurrent_trials: 2``: each suggestion comes while another trial
    still runs; a repeat of the running one is dropped and learned from as a repeat."""
    space = BertSpace(num_layers=(1, 2, 3, 4, 5, 6), num_heads=(2, 4), head_dim=(16,), ffn_ratio=(2,))
    searcher = _controlled_search(space, budget_ms=100.0)
    running, trained = [], []
    for index in range(len(space.archs())):
        config = searcher.suggest(str(index))
        if not isinstance(config, dict):
            break
        running.append((str(index), Arch.from_dict(config["arch"])))
        if len(running) == 2:  # the older of the two finishes
            trial_id, arch = running.pop(0)
            searcher.on_trial_complete(
                trial_id,
                {"score": 0.5 + 0.01 * arch.num_layers, "latency_ms": 1.0, CONSTRAINT_KEY: -99.0, "final": True},
            )
            trained.append(arch)
    trained += [arch for _, arch in running]
    assert len(set(trained)) == len(trained)
    assert len(trained) >= len(space.archs()) - 2, trained
