"""The profiler pool on real Ray: training kept off measured cores, back-to-back blocks, a replica off the pool flagged."""

import json
import os
import signal
import time

import pytest
import ray

from device_profilers import (
    MeasureProtocol,
    TuningSettings,
    get_broker,
    local_cpu,
    measure_latency,
    running_broker,
    training_turn,
)
from device_profilers.latency import MeasureTarget
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real Ray, TVM or processes

TINY = Arch.uniform(1, 32, 2, 64)
ONE_BLOCK = MeasureProtocol(
    warmup=1, repeats=3, min_repeat_ms=2, blocks=1, block_pause_s=0, max_blocks=1, quiet_wait_s=0
)
NO_TUNING = TuningSettings(trials_per_task=0)


def test_measurement_waits_for_training_on_its_node(ray_cluster, tmp_path):
    with running_broker([local_cpu()], str(tmp_path), NO_TUNING, ONE_BLOCK, use_cache=False) as broker:
        _measure_after_a_training_turn(tmp_path)
        # A trial killed inside its turn holds measurement up only until Ray sees it die.
        _measure_after_a_trial_dies_in_its_turn(broker, tmp_path)


def _measure_after_a_training_turn(tmp_path):
    measure_latency(TINY, backend="ort", seq_len=16)  # warm the profiler: only the wait is timed below

    opened = tmp_path / "turn-opened"

    @ray.remote(num_cpus=1)
    def train_for(seconds: float) -> float:
        with training_turn():
            opened.touch()
            time.sleep(seconds)
            return time.time()

    turn_ended = train_for.remote(3.0)
    _wait_for(opened)
    latency = measure_latency(TINY, backend="ort", seq_len=16)
    assert latency.measured_at >= ray.get(turn_ended)


@ray.remote(num_cpus=1)
class _Trial:
    def pid(self) -> int:
        return os.getpid()

    def train_without_end(self, opened: str) -> None:
        with training_turn():
            open(opened, "w").close()
            time.sleep(600)


def _measure_after_a_trial_dies_in_its_turn(broker, tmp_path):
    opened = tmp_path / "turn-opened-by-an-actor"
    trial = _Trial.remote()
    pid = ray.get(trial.pid.remote())
    trial.train_without_end.remote(str(opened))
    _wait_for(opened)
    pending = broker.measure.remote(TINY, MeasureTarget("local-cpu", "ort", 1, 16))
    assert not ray.wait([pending], timeout=2)[0]  # held up by the open turn
    os.kill(pid, signal.SIGKILL)  # a crash inside the turn: end_training never comes
    killed = time.monotonic()
    assert ray.get(pending, timeout=60).median_ms > 0
    assert time.monotonic() - killed < 30  # the leak timeout alone would have taken 120 s


def _wait_for(opened) -> None:
    deadline = time.monotonic() + 120  # a worker can take long to start on a loaded machine
    while not opened.exists():
        assert time.monotonic() < deadline, f"no training turn opened ({opened.name})"
        time.sleep(0.05)


def test_back_to_back_broker_blocks_in_one_session(ray_cluster, tmp_path):
    """A search then a finalize in one Ray session each start a broker under the same name."""
    for _ in range(2):
        with running_broker([local_cpu()], str(tmp_path), NO_TUNING, ONE_BLOCK):
            assert measure_latency(TINY, "local-cpu", "ort", 1, 16).median_ms > 0
    with pytest.raises(RuntimeError, match="no profiler broker"):
        get_broker()


def test_the_report_flags_a_replica_off_the_pools_median(tmp_path):
    from canao_ray.results import replicas_summary

    rows = [
        {"replica": r, "node": f"node{r}", "median_ms": ms, "ratio": ms / 2.0} for r, ms in enumerate((2.0, 2.1, 2.6))
    ]
    (tmp_path / "replicas.json").write_text(json.dumps([{"device": "rk3588", "tolerance": 0.1, "replicas": rows}]))
    lines = replicas_summary(tmp_path)
    flagged = [line for line in lines if "off the pool" in line]
    assert len(flagged) == 1 and flagged[0].startswith("| 2 |") and "+30%" in flagged[0]
    assert replicas_summary(tmp_path / "elsewhere") == []
