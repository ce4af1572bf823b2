"""MetaSchedule tuning of a module's hot operators, into the device's persistent database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import tvm
from tvm import relax
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.analysis import estimate_tir_flops
from tvm.s_tir.schedule.schedule import ScheduleError

from ...devices import Device
from ...files import trim_partial_line
from ..tuning import TuningSettings
from .builder import PooledBuilder
from .default_schedules import is_scheduled
from .intrinsics import import_tensor_intrinsics

logger = logging.getLogger(__name__)


class TaskTuner:
    """Tunes the tasks that carry the FLOPs of a module, once per workload per device.

    The database is keyed by workload, so a shape tuned for one architecture serves every
    later one that repeats it. The builder and the local runner start their worker
    processes once and keep them for every tuning run.
    """

    def __init__(self, device: Device, work_dir: Path, settings: TuningSettings):
        import_tensor_intrinsics(cuda=device.runtime_kind == "cuda")
        self.device = device
        self.settings = settings
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        # TVM refuses to load a database whose last line a kill cut; only that record is lost.
        for name in ("database_workload.json", "database_tuning_record.json"):
            trim_partial_line(work_dir / name)
        self.database = ms.database.JSONDatabase(work_dir=str(work_dir))
        self._builder = None
        self._local_runner = None

    def hot_tasks(self, mod, target) -> list[Any]:
        """The tasks that lowering left unscheduled (kernels no rule takes) holding at least
        ``min_flops_share`` of the module's FLOPs: a classifier's two-column matmul is not
        worth a tuning run. Kernels that read weights alone (an int8 weight's column sums)
        run once at load and are not tuned either."""
        if self.settings.trials_per_task == 0:
            return []
        scheduled = {var.name_hint for var, func in mod.functions_items() if is_scheduled(func)}
        scheduled |= _load_time_kernels(mod["main"])
        tasks = ms.relax_integration.extract_tasks(mod, target)
        flops = [_flops(task.dispatched[0]) * task.weight for task in tasks]
        total = sum(flops) or 1.0
        return [
            task
            for task, f in zip(tasks, flops)
            if task.task_name not in scheduled and f / total >= self.settings.min_flops_share
        ]

    def is_tuned(self, task, target) -> bool:
        return self.database.query_tuning_record(task.dispatched[0], target, task.task_name) is not None

    def tune(self, tasks: list[Any]) -> list[str]:
        """Tune ``tasks`` together; if MetaSchedule cannot schedule one of them (a
        ``ScheduleError`` while generating its search space, as for the fused mask-and-matmul
        of some attention-masked graphs), tune them one by one and leave the ones that fail
        to TVM's default schedule. Returns the names of the tasks left untuned."""
        try:
            self._tune(tasks)
            return []
        except ScheduleError:
            if len(tasks) == 1:
                logger.warning(
                    "MetaSchedule cannot schedule task %s; it keeps the default schedule", tasks[0].task_name
                )
                return [tasks[0].task_name]
        return [name for task in tasks for name in self.tune([task])]

    def _tune(self, tasks: list[Any]) -> None:
        strategy = ms.search_strategy.EvolutionarySearch(
            population_size=self.settings.population_size,
            genetic_num_iters=self.settings.genetic_num_iters,
        )
        log_dir = self.work_dir / "logs"
        contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
            tasks, str(log_dir), strategy=strategy, seed=0, num_threads=self.device.num_threads
        )
        settings = self.settings
        trials = settings.trials_per_task
        ms.tune_tasks(
            tasks=contexts,
            task_weights=weights,
            work_dir=str(log_dir),
            max_trials_global=trials * len(contexts),
            max_trials_per_task=round(trials * settings.max_task_share),
            num_trials_per_iter=settings.trials_per_round or trials,
            builder=self._pooled_builder(),
            runner=self._runner(),
            database=self.database,
        )

    def _pooled_builder(self) -> PooledBuilder:
        if self._builder is None:
            self._builder = PooledBuilder(max_workers=self.device.num_threads)
        return self._builder

    def _runner(self):
        """Where candidates are timed: here, or on the remote device through its tracker.

        Candidates travel as TVM's default tar archive, which the device's RPC server
        links: a device without a linker (a phone's RPC app) is tuned through a Linux
        board of the same CPU, or gets a pre-tuned database copied into its cache.
        """
        evaluator = ms.runner.EvaluatorConfig(
            number=3, repeat=1, min_repeat_ms=self.settings.runner_min_repeat_ms, enable_cpu_cache_flush=False
        )
        rpc = self.device.rpc
        if rpc is None:
            if self._local_runner is None:
                self._local_runner = ms.runner.LocalRunner(evaluator_config=evaluator)
            return self._local_runner
        config = ms.runner.RPCConfig(
            tracker_host=rpc.tracker_host,
            tracker_port=rpc.tracker_port,
            tracker_key=rpc.key,
            session_timeout_sec=rpc.session_timeout_s,
        )
        return ms.runner.RPCRunner(rpc_config=config, evaluator_config=evaluator)


def _flops(func) -> float:
    """TVM's FLOP estimate of a kernel; 0 for one it cannot read (a tensorized one: its
    intrinsic calls have no estimate), which rules have scheduled anyway."""
    try:
        return estimate_tir_flops(func)
    except tvm.error.InternalError:
        return 0.0


def _load_time_kernels(main) -> set[str]:
    """Kernels ``main`` calls on weights and constants alone: ``LiftTransformParams`` (or
    ``FoldConstant``) runs them once, before the first call."""
    num_input = main.attrs.get("num_input", len(main.params)) if main.attrs is not None else len(main.params)
    weights = list(main.params[int(num_input) :])

    def at_load(arg) -> bool:
        return isinstance(arg, tvm.ir.GenericConst) or any(arg.same_as(weight) for weight in weights)

    return {
        binding.value.args[0].name_hint
        for block in main.body.blocks
        for binding in block.bindings
        if isinstance(binding.value, relax.Call)
        and getattr(binding.value.op, "name", None) == "relax.call_tir"
        and all(at_load(arg) for arg in binding.value.args[1].fields)
    }
