"""A search whose driver is killed (SIGKILL) halfway, then ``canao search --resume``:
real processes, a real Ray instance each time, the run's own Optuna storage.

Latency comes from ONNX Runtime here to keep the test short; resuming does not depend
on the backend (the TVM path is covered by test_search_end_to_end)."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from canao_ray.keys import DUPLICATE_OF
from canao_ray.results import verify_run
from device_profilers.files import read_records

pytestmark = pytest.mark.slow  # real Ray, TVM or processes

CONFIG = """
name: resume
task: {num_train: 200, num_dev: 100, seq_len: 16}
space: {num_layers: [1, 2, 3, 4], num_heads: [2, 4], head_dim: [16], ffn_ratio: [2]}
search: {num_samples: 4, sampler: random, trial_cpus: 1, max_concurrent_trials: 2}
latency: {budget_ms: 1000.0, backend: ort, protocol: {warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}}
training: {epochs: 1}
scheduler: {kind: none}
"""


def _cli(*args):
    return [sys.executable, "-m", "canao_ray.cli", "search", *args]


def test_a_search_killed_halfway_resumes_to_the_configured_trial_count(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG + f"cache_dir: {tmp_path / 'cache'}\n")
    run_dir = tmp_path / "run"
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(
            _cli("--config", str(config), "--out", str(run_dir)), stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 600
        while len(read_records(run_dir / "trials.jsonl")) < 2:
            assert driver.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no two finished trials within 10 minutes"
            time.sleep(0.5)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything it started
        driver.wait()
    assert len(read_records(run_dir / "trials.jsonl")) < 4

    resumed = subprocess.run(_cli("--resume", str(run_dir)), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    records = read_records(run_dir / "trials.jsonl")
    assert len(records) == 4 and len({r["trial_id"] for r in records}) == 4
    assert all(r["status"] == "TERMINATED" for r in records)
    archs = [tuple(sorted(r["arch"].items())) for r in records]
    assert len(set(archs)) == 4  # none trained twice
    study = optuna.load_study(study_name="resume", storage=f"sqlite:///{run_dir / 'optuna.db'}")
    own = [t for t in study.trials if DUPLICATE_OF not in t.user_attrs]
    complete = [t for t in own if t.state == TrialState.COMPLETE]
    assert len(complete) == 4 and len({tuple(sorted(t.params.items())) for t in complete}) == 4
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert [r["finished"] for r in read_records(run_dir / "hypervolume.jsonl")] == [1, 2, 3, 4]
    assert "Architectures fully evaluated: 4" in (run_dir / "report.md").read_text()
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict
