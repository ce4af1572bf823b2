"""The remote-device path with a real TVM RPC tracker and server on loopback.

The "remote" device is this machine's CPU registered under a device key, exactly as a
phone or a board would register; only the device itself cannot exist here.
"""

import pytest
from loopback import rpc_loopback

from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, rpc_device
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real Ray, TVM or processes

TINY = Arch.uniform(1, 32, 2, 64)
QUICK = MeasureProtocol(warmup=2, repeats=5, min_repeat_ms=5, blocks=2, block_pause_s=0, max_blocks=3)


@pytest.fixture
def loopback_tracker(monkeypatch):
    monkeypatch.setenv("TVM_NUM_THREADS", "2")  # restored after the test
    with rpc_loopback("loopback-cpu", servers=1, threads=2) as address:
        yield address


def test_remote_device_is_tuned_and_timed_through_the_tracker(loopback_tracker, tmp_path):
    device = rpc_device("loopback-cpu", loopback_tracker, key="loopback-cpu", num_threads=2)
    profiler = DeviceProfiler(
        device, str(tmp_path), TuningSettings(matmuls="tune", trials_per_task=2, min_flops_share=0.1), QUICK
    )
    latency = profiler.measure(TINY, "tvm", 1, 16)
    assert latency.device == "loopback-cpu" and latency.backend == "tvm"
    assert latency.median_ms > 0 and latency.repeats == QUICK.repeats
    assert latency.tuned_tasks > 0  # candidates were timed by the RPC runner on the device
    assert (tmp_path / "tvm" / "loopback-cpu").is_dir()  # the device's own tuning database


def test_remote_device_refuses_host_only_backends(loopback_tracker, tmp_path):
    device = rpc_device("loopback-cpu", loopback_tracker, key="loopback-cpu", num_threads=2)
    with pytest.raises(ValueError, match="runs on the profiler's host"):
        DeviceProfiler(device, str(tmp_path), TuningSettings(trials_per_task=0), QUICK).measure(TINY, "ort", 1, 16)


def test_unreachable_tracker_fails_with_what_to_check(tmp_path):
    device = rpc_device("nowhere", "127.0.0.1:1", key="nowhere", num_threads=2)
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        device.rpc.check_reachable()


@pytest.fixture
def two_boards(monkeypatch):
    """Two RPC servers of one key on loopback, one thread each: two identical boards."""
    monkeypatch.setenv("TVM_NUM_THREADS", "1")  # restored after the test
    with rpc_loopback("loopback-board", servers=2, threads=1) as address:
        yield address


def test_a_pool_of_two_boards_measures_in_parallel_and_a_killed_replica_loses_no_request(
    ray_cluster, two_boards, tmp_path
):
    import time

    import ray

    from device_profilers import running_broker
    from device_profilers.latency import MeasureTarget

    boards = rpc_device("boards", two_boards, key="loopback-board", num_threads=1, replicas=2)
    archs = [Arch.uniform(1, 32, 2, 64 * width) for width in range(1, 5)]  # four distinct models
    target = MeasureTarget("boards", "tvm", 1, 16)
    with running_broker([boards], str(tmp_path), TuningSettings(trials_per_task=0), QUICK, use_cache=False) as broker:
        pending = [broker.measure.remote(arch, target) for arch in archs]
        time.sleep(3)  # both replicas are compiling or timing
        ray.kill(ray.get(broker.profiler.remote("boards", 1)), no_restart=False)
        latencies = ray.get(pending, timeout=300)
        calibration = ray.get(broker.calibration.remote("boards"))
    assert [row["replica"] for row in calibration] == [0, 1]  # timed on both boards as the broker started
    assert all(row["median_ms"] > 0 for row in calibration) and sorted(r["ratio"] for r in calibration)[0] <= 1
    assert sorted(latency.arch_key for latency in latencies) == sorted(arch.key for arch in archs)
    assert {latency.replica for latency in latencies} == {0, 1}
    for replica in (0, 1):  # one measurement at a time on each board
        spans = sorted((lat.started_at, lat.measured_at) for lat in latencies if lat.replica == replica)
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
