"""Assemble and run the Tune search: broker, constrained multi-objective searcher, scheduler."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import optuna
import ray
from ray import tune

from device_profilers import running_broker

from .config import ConfigError, SearchConfig
from .controller import ControllerSampler, budget_reward
from .hypervolume import HypervolumeHistory
from .results import HYPERVOLUME_FILE, TrialProgress, TrialsLog, write_report
from .scheduler import ParetoASHA
from .searcher import ConstrainedOptunaSearch
from .trainable import train_candidate
from .teacher import prepare_teacher

OBJECTIVES = ["score", "latency_ms"]  # score: the task's headline metric (accuracy on SST-2)
MODES = ["max", "min"]


def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The configured sampler. All but ``random`` read the latency budget from the
    constraint each trial carries (see ``ConstrainedOptunaSearch``); the controller
    folds it into its reward instead."""
    s = config.search
    if s.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=s.population_size, seed=s.seed)
    if s.sampler == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, seed=s.seed)
    if s.sampler == "gp":
        return optuna.samplers.GPSampler(seed=s.seed)
    if s.sampler == "controller":
        return ControllerSampler(budget_reward(config.latency.budget_ms), seed=s.seed)
    return optuna.samplers.RandomSampler(seed=s.seed)


def hypervolume_reference(config: SearchConfig) -> tuple[float, float]:
    """Score 0 (chance level or worse adds nothing, for every GLUE metric) and the budget."""
    return (0.0, config.latency.budget_ms)


def make_scheduler(config: SearchConfig) -> tune.schedulers.TrialScheduler | None:
    s, epochs = config.scheduler, config.training.epochs
    if s.kind == "none" or epochs <= s.grace_period:
        return None
    if s.kind == "pareto_asha":
        return ParetoASHA(OBJECTIVES, MODES, "epoch", epochs, s.grace_period, s.reduction_factor)
    # Ray's ASHA knows one metric: the score (latency does not change during a trial).
    return tune.schedulers.ASHAScheduler(
        metric="score", mode="max", time_attr="epoch", max_t=epochs,
        grace_period=s.grace_period, reduction_factor=s.reduction_factor,
    )


def run_search(config: SearchConfig, out_dir: str | Path) -> Path:
    """Run the search described by ``config``; returns the run directory."""
    run_dir = Path(out_dir).resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"output directory {str(run_dir)!r} is not empty; choose a new --out")
    device = config.latency.make_device()
    if device.rpc is not None:
        try:
            device.rpc.check_reachable()
        except ConnectionError as error:
            raise ConfigError(f"latency.rpc.tracker: {error}") from None
    cache_dir = config.resolved_cache_dir()
    # Before the run directory exists: missing data or teacher files fail here, cleanly.
    teacher_dir = str(prepare_teacher(config, cache_dir)) if config.teacher is not None else None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(__import__("yaml").safe_dump(config.to_dict(), sort_keys=False))

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    storage = optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}")
    searcher = ConstrainedOptunaSearch(
        space=config.space,
        metric=OBJECTIVES,
        mode=MODES,
        sampler=make_sampler(config),
        storage=storage,
        study_name=config.name,
    )
    trainable = tune.with_resources(
        tune.with_parameters(train_candidate, settings=config, teacher_dir=teacher_dir),
        {"cpu": config.search.trial_cpus},
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=make_scheduler(config),
            num_samples=config.search.num_samples,
            max_concurrent_trials=config.search.max_concurrent_trials,
        ),
        run_config=tune.RunConfig(
            name=config.name,
            storage_path=str(run_dir / "ray"),
            callbacks=[
                TrialsLog(run_dir / "trials.jsonl"),
                TrialProgress(),
                HypervolumeHistory(run_dir / HYPERVOLUME_FILE, OBJECTIVES, MODES, hypervolume_reference(config)),
            ],
            verbose=1,
        ),
    )
    with running_broker(
        [device], str(cache_dir), config.latency.tuning, config.latency.protocol, config.latency.use_cache
    ):
        tuner.fit()
    study = optuna.load_study(study_name=config.name, storage=storage)
    command = "canao " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "canao search"
    write_report(run_dir, study, config.space, config.latency.budget_ms, command, config.task.score_name)
    return run_dir
