"""``canao tune``: tune every distinct operator shape of a search space before searching.

A search then compiles each candidate from the database in seconds instead of tuning
inside trials. Interrupt it at any point and run it again: shapes already in the
device's database are skipped.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from device_profilers import DeviceProfiler

from ..config import SearchConfig


def pretune(config: SearchConfig) -> dict[str, float]:
    """Tune the space of ``config`` on its device; returns totals for the summary line."""
    device = config.latency.make_device()
    profiler = DeviceProfiler(device, str(config.resolved_cache_dir()), config.latency.tuning, config.latency.protocol)
    totals = {"shapes": 0, "tuned_tasks": 0, "reused_tasks": 0, "tune_s": 0.0}
    representatives = config.space.shape_representatives()
    with tqdm(representatives, desc=f"tuning {device.name}", unit="shape") as bar:
        for arch in bar:
            bar.set_postfix_str(arch.key)
            stats = profiler.tune(arch, config.latency.batch, config.task.seq_len)
            totals["shapes"] += 1
            totals["tuned_tasks"] += stats.tuned_tasks
            totals["reused_tasks"] += stats.reused_tasks
            totals["tune_s"] += stats.tune_s
    return totals
