"""The TVM runtime's thread pool on a local device: its size, and its threads left unpinned."""

from __future__ import annotations

import os

import tvm

from ...devices import LOCAL_RUNTIME_ENV


def set_runtime_threads(num_threads: int) -> None:
    """Size the calling thread's TVM pool to ``num_threads``, unpinned.

    TVM sizes a thread's pool from ``TVM_NUM_THREADS`` once, and reconfiguring can only use
    fewer of its workers: so the pool is created with a worker per available core, then
    told how many to use. Child processes (MetaSchedule's runner) read the device's count
    from the variable.
    """
    os.environ.update(LOCAL_RUNTIME_ENV, TVM_NUM_THREADS=str(max(num_threads, len(os.sched_getaffinity(0)))))
    tvm.get_global_func("runtime.config_threadpool")(1, num_threads)
    os.environ["TVM_NUM_THREADS"] = str(num_threads)
