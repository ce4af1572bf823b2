"""Assemble and run the Tune search: broker, constrained multi-objective searcher, scheduler."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path

import numpy as np
import optuna
import ray
import yaml
from ray import tune

from device_profilers import get_broker, measure_latencies, running_broker
from device_profilers.files import write_atomic

from ..config import ConfigError, SearchConfig
from ..data import TaskDataError, chance_score, load_splits, resolved_labels
from ..results import (
    HYPERVOLUME_FILE,
    REPLICAS_FILE,
    HypervolumeHistory,
    TrialProgress,
    TrialsLog,
    flat_front_warning,
    write_report,
)
from ..teacher import TeacherError, prepare_teacher, teacher_config
from .samplers import make_sampler, make_scheduler
from .searcher import ConstrainedOptunaSearch
from .trainable import train_candidate


def hypervolume_reference(config: SearchConfig) -> list[float | None]:
    """Score 0 (chance level or worse adds nothing, for every GLUE metric), then each
    objective's budget (None for a cost without one: see ``hypervolume``)."""
    return config.resolved_objectives().reference


def run_search(config: SearchConfig, out_dir: str | Path, address: str | None = None) -> Path:
    """Run the search described by ``config``; returns the run directory.

    ``address``: join that Ray cluster (as ``ray.init(address=...)``); without it, use
    the Ray instance this process already has, or start one on this machine.
    """
    run_dir = Path(out_dir).resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"output directory {str(run_dir)!r} is not empty; choose a new --out")
    config, teacher_dir = _check_and_prepare(config)
    _init_ray(config, address)
    with _profiler_broker(config):
        _check_budget(config)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
        objectives = config.resolved_objectives()
        searcher = ConstrainedOptunaSearch(
            space=config.space,
            metric=objectives.metrics,
            mode=objectives.modes,
            constraints=objectives.constraints,
            sampler=make_sampler(config),
            storage=_study_storage(run_dir),
            study_name=config.name,
            num_samples=config.search.num_samples,
        )
        tune.Tuner(
            _trainable(config, teacher_dir),
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=make_scheduler(config),
                num_samples=config.search.num_samples,
                max_concurrent_trials=config.search.max_concurrent_trials,
                # A trial's process imports torch, transformers and canao: reused, the next trial starts at once.
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=config.name,
                storage_path=str(run_dir / "ray"),
                callbacks=[
                    TrialsLog(run_dir / "trials.jsonl", objectives.metrics),
                    TrialProgress(),
                    HypervolumeHistory(
                        run_dir / HYPERVOLUME_FILE, objectives.metrics, objectives.modes, objectives.reference
                    ),
                ],
                verbose=1,
            ),
        ).fit()
        _record_replicas(config, run_dir)
    return _write_results(config, run_dir)


def resume_search(run_dir: str | Path, address: str | None = None) -> Path:
    """Finish a search whose driver died, from the run directory it was writing.

    Tune's experiment state says which trials finished (they are kept, never rerun), and
    the searcher it checkpointed continues on the same Optuna study, so the search ends
    with the configured number of trials. Trials that were running are run again from
    their first epoch. The config is the run's own ``config.yaml``.
    """
    run_dir = Path(run_dir).resolve()
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{str(run_dir)!r} has no config.yaml: give the directory of an interrupted 'canao search'")
    config = SearchConfig.from_yaml(run_dir / "config.yaml")
    experiment = run_dir / "ray" / config.name
    if not tune.Tuner.can_restore(str(experiment)):
        raise ConfigError(
            f"{str(run_dir)!r} holds no Tune experiment state to resume (the search stopped before its first trial); start it again"
        )
    config, teacher_dir = _check_and_prepare(config)
    _init_ray(config, address)
    with _profiler_broker(config):
        tune.Tuner.restore(
            str(experiment), _trainable(config, teacher_dir), resume_unfinished=True, resume_errored=False
        ).fit()
        _record_replicas(config, run_dir)
    return _write_results(config, run_dir)


def _check_and_prepare(config: SearchConfig) -> tuple[SearchConfig, str | None]:
    """Fail on bad data, an unreachable device or missing teacher files before anything is
    written. Returns the config with the task's class order written in (the run saves the
    order it used), and the fine-tuned teacher's directory (None without a teacher)."""
    try:
        if config.teacher is not None:
            teacher_config(config.teacher.model)  # the cheapest check first: no data read for a teacher that is missing
        splits = load_splits(config.task)
    except (TaskDataError, TeacherError) as error:
        raise ConfigError(str(error)) from None
    config = config.model_copy(update={"task": resolved_labels(config.task, splits)})
    for device in config.measured_devices():
        if device.rpc is not None:
            try:
                device.rpc.check_reachable()
            except ConnectionError as error:
                where = "latency" if device.name == config.latency.device else f"latency.devices.{device.name}"
                raise ConfigError(f"{where}.rpc.tracker: {error}") from None
    if config.teacher is None:
        return config, None
    return config, str(prepare_teacher(config, config.resolved_cache_dir()))


def _init_ray(config: SearchConfig, address: str | None) -> None:
    """Join or start Ray, then check that some node can host each device's profiler."""
    wanted: dict[str, float] = {}
    for device in config.measured_devices():
        for name, amount in device.resources.items():
            wanted[name] = max(wanted.get(name, 0), amount)
    # Ray announces its default token authentication on every start, as a warning on
    # stderr; it would stand before canao's own one-line errors and says nothing to act on.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    if not ray.is_initialized():
        # A Ray started here is the whole cluster: this machine has the device.
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,  # Ray's start-up chatter would bury canao's own errors
            resources=None if address else wanted,
        )
    for setting, resource, wanted_per_trial in (
        ("trial_cpus", "CPU", config.search.trial_cpus),
        ("trial_gpus", "GPU", config.search.trial_gpus),
    ):
        held = ray.cluster_resources().get(resource, 0)
        if wanted_per_trial > held:
            raise ConfigError(
                f"search.{setting}: each trial asks for {wanted_per_trial:g} {resource}s but the Ray cluster has {held:g}, "
                "so no trial could start; lower it or add nodes"
            )
    missing = {name: amount for name, amount in wanted.items() if ray.cluster_resources().get(name, 0) < amount}
    if missing:
        raise ConfigError(
            f"latency.resources: no node of the Ray cluster offers {missing}; start the device's node "
            f"with: ray start --address=<head> --resources='{json.dumps(missing)}'"
        )


def _study_storage(run_dir: Path) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'optuna.db'}")


def _trainable(config: SearchConfig, teacher_dir: str | None):
    return tune.with_resources(
        tune.with_parameters(train_candidate, settings=config, teacher_dir=teacher_dir),
        {"cpu": config.search.trial_cpus, "gpu": config.search.trial_gpus},
    )


def _profiler_broker(config: SearchConfig):
    """The broker every trial asks for latencies, up for the length of a ``with`` block."""
    return running_broker(
        config.measured_devices(),
        str(config.resolved_cache_dir()),
        config.latency.tuning,
        config.latency.protocol,
        config.latency.use_cache,
    )


def _check_budget(config: SearchConfig) -> None:
    """Measure the space's fastest architecture on every budgeted device before any trial:
    if even it is over a budget, every trial would be infeasible, which is a config error,
    not a search. (The measurements are cached, so a trial that draws it costs nothing.)"""
    budgeted = config.resolved_objectives().budgeted
    fastest = config.space.smallest()
    targets = [o.target(config.latency.batch, config.task.seq_len) for o in budgeted]
    try:
        latencies = measure_latencies(fastest, targets)
    except ray.exceptions.RayTaskError as error:
        cause = str(error.cause).strip().splitlines()[-1] if error.cause else type(error).__name__
        raise ConfigError(f"latency: measuring {fastest.key} failed before any trial: {cause}") from None
    for objective, latency in zip(budgeted, latencies):
        if latency.median_ms > objective.budget:
            where = "latency.budget_ms" if objective.primary and config.objectives is None else "objectives"
            raise ConfigError(
                f"{where}: the space's fastest architecture, {fastest.key}, runs in {latency.median_ms:.3g} ms on "
                f"{objective.device} ({objective.backend}), over the {objective.budget} ms budget; raise the budget "
                "or add smaller choices to the space"
            )


def _record_replicas(config: SearchConfig, run_dir: Path) -> None:
    """``replicas.json``: how each replica of each pooled device timed the broker's
    calibration architecture, for the report to show and flag (nothing without a pool)."""
    pooled = [device for device in config.measured_devices() if device.replicas > 1]
    if pooled:
        tolerance = config.latency.replica_tolerance
        records = [
            {"device": d.name, "tolerance": tolerance, "replicas": ray.get(get_broker().calibration.remote(d.name))}
            for d in pooled
        ]
        write_atomic(run_dir / REPLICAS_FILE, json.dumps(records, indent=2))


def _write_results(config: SearchConfig, run_dir: Path) -> Path:
    """The front and the report, from the run's study; a front no better than chance is
    said on the console too."""
    study = optuna.load_study(study_name=config.name, storage=_study_storage(run_dir))
    splits = load_splits(config.task)
    chance = chance_score(splits.task, np.asarray(splits.train["label"]), np.asarray(splits.validation["label"]))
    score = config.task.score_name
    objectives = config.resolved_objectives()
    front = write_report(run_dir, study, config.space, objectives, _command_line(), score, chance)
    warning = flat_front_warning(front, chance, score)
    if warning:
        print(f"[canao] warning: {warning}", flush=True)
    return run_dir


def _command_line() -> str:
    """How this process was started, for the report's "Reproduce" block."""
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    if Path(sys.argv[0]).name == "canao":
        return f"canao {args}" if args else "canao search"
    return f"python {shlex.quote(sys.argv[0])} {args}".rstrip()
