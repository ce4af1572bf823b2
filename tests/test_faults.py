"""Faults inside a real search (``canao search`` in its own process, real Ray, real
trials): a candidate whose build fails and a trial process killed mid-epoch each cost
that trial only, a profiler killed mid-measurement costs nothing (Ray restarts it and
the request is retried); the search finishes the rest and its run directory verifies.

The build failure is injected through the profiler's testing hook (no real build fails
on demand); the kills are real SIGKILLs of the trial's and the profiler's processes.
Latency comes from ONNX Runtime to keep the test short: the fault paths do not depend
on the backend.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from canao_ray.results import verify_run
from device_profilers.files import SCRATCH_PREFIX as PREFIX
from device_profilers.files import read_records
from device_profilers.service import FAIL_BUILD_ENV

pytestmark = pytest.mark.slow  # real Ray, TVM or processes

FAILING = ["L1-H64-A4-I128", "L2-H64-A4-I128"]  # every 4-head architecture of the space
EPOCHS = 3  # training.epochs below
CONFIG = """
name: faults
task: {num_train: 16000, num_dev: 100, seq_len: 16}  # epochs of 5-7 s: time to see one and kill
space: {num_layers: [1, 2], num_heads: [2, 4], head_dim: [16], ffn_ratio: [2]}
search: {num_samples: 4, sampler: random, trial_cpus: 1, max_concurrent_trials: 2}
latency: {budget_ms: 1000.0, backend: ort, protocol: {warmup: 1, repeats: 20, min_repeat_ms: 50, blocks: 2, block_pause_s: 0, max_blocks: 2, quiet_wait_s: 0}}
training: {epochs: 3}
scheduler: {kind: none}
"""


def _training_trial_pid(experiment_dir) -> int | None:
    """The worker pid of a trial that has reported an epoch but not its last (so it is
    mid-epoch). Three epochs, so the kill has two to land in: Tune's driver, sharing two
    cores with two trials, once wrote a trial's first epoch only as its second ended."""
    for result in experiment_dir.glob("*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        if rows and rows[-1].get("epoch", EPOCHS) < EPOCHS and rows[-1].get("feasible"):
            return rows[-1]["pid"]
    return None


def _measuring_profiler_pid(driver_pid: int) -> int | None:
    """A profiler process of this search (a descendant of its driver) in the middle of a
    measurement: it holds a scratch directory for the exported model until it is done."""
    for process in psutil.Process(driver_pid).children(recursive=True):
        try:
            title = process.cmdline()[:1]  # Ray's process title: ray::DeviceProfiler, .measure() while busy
            if (
                title
                and title[0].startswith("ray::DeviceProfiler")
                and any(Path(tempfile.gettempdir()).glob(f"{PREFIX}{process.pid}-*"))
            ):
                return process.pid
        except psutil.Error:
            continue  # ended meanwhile
    return None


def _inject_kills(search: subprocess.Popen, run_dir) -> None:
    """SIGKILL a profiler mid-measurement and a trial mid-epoch, as soon as each is seen."""
    deadline = time.monotonic() + 600
    killed_profiler = killed_trial = None
    while killed_profiler is None or killed_trial is None:
        assert search.poll() is None, (
            f"the search ended before both kills: profiler killed {killed_profiler}, trial killed {killed_trial}"
        )
        assert time.monotonic() < deadline, (
            f"within 10 minutes: profiler killed {killed_profiler}, trial killed {killed_trial}"
        )
        if killed_profiler is None and (pid := _measuring_profiler_pid(search.pid)) is not None:
            os.kill(pid, signal.SIGKILL)
            killed_profiler = pid
        if killed_trial is None and (pid := _training_trial_pid(run_dir / "ray" / "faults")) is not None:
            os.kill(pid, signal.SIGKILL)
            killed_trial = pid
        time.sleep(0.1)


def test_a_failed_build_and_a_killed_trial_cost_only_their_own_trials(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG + f"cache_dir: {tmp_path / 'cache'}\n")
    run_dir = tmp_path / "run"
    env = {**os.environ, FAIL_BUILD_ENV: ",".join(FAILING)}
    command = [sys.executable, "-m", "canao_ray.cli", "search", "--config", str(config), "--out", str(run_dir)]
    with open(tmp_path / "search.log", "w") as log:
        search = subprocess.Popen(command, stdout=log, stderr=log, env=env, start_new_session=True)
        try:
            _inject_kills(search, run_dir)
            assert search.wait(timeout=900) == 0, (tmp_path / "search.log").read_text()[-3000:]
        finally:
            if search.poll() is None:  # a failed assertion: take the search and its Ray down with it
                os.killpg(search.pid, signal.SIGKILL)
                search.wait()

    records = read_records(run_dir / "trials.jsonl")
    assert len(records) == 4, records  # the search went on after both faults
    failed_build = [r for r in records if f"injected by {FAIL_BUILD_ENV}" in (r.get("error") or "")]
    killed = [r for r in records if r["status"] == "ERROR" and r not in failed_build]
    assert failed_build and all(r["status"] == "ERROR" and r["arch"]["num_heads"] == 4 for r in failed_build), records
    assert len(killed) == 1 and "died" in killed[0]["error"].lower(), killed
    assert all(r["status"] == "TERMINATED" for r in records if r not in failed_build + killed)
    assert (run_dir / "report.md").is_file()
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict
