"""A MetaSchedule builder whose worker processes outlive one batch of candidates.

TVM's ``LocalBuilder`` starts fresh workers for every batch (one task's candidates), and
each imports TVM before compiling anything, which costs more than the compiling. Here the
workers are kept; a worker is replaced after ``max_uses`` builds (TVM starts fresh ones
against a leak in long-lived workers) or at once when it times out.
"""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import BuilderInput, BuilderResult, PyBuilder
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind

from .build_function import build_and_export


@derived_object
class PooledBuilder(PyBuilder):
    """Builds candidates in ``max_workers`` long-lived processes (they exit with the profiler)."""

    def __init__(self, max_workers: int, timeout_s: float = 30.0, max_uses: int = 256):
        super().__init__()
        self.timeout_s = timeout_s
        self.pool = PopenPoolExecutor(max_workers=max_workers, timeout=timeout_s, maximum_process_uses=max_uses)

    def build(self, build_inputs: list[BuilderInput]) -> list[BuilderResult]:
        results = []
        jobs = [(build_input.mod, build_input.target) for build_input in build_inputs]
        for outcome in self.pool.map_with_error_catching(lambda job: build_and_export(*job), jobs):
            if outcome.status == StatusKind.COMPLETE:
                results.append(BuilderResult(outcome.value, None))
            elif outcome.status == StatusKind.TIMEOUT:
                results.append(BuilderResult(None, f"PooledBuilder: timeout, killed after {self.timeout_s} s"))
            else:
                results.append(BuilderResult(None, f"PooledBuilder: build failed\n{outcome.value}"))
        return results
