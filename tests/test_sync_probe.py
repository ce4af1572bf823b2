"""The phase probe on this machine's CPU: real TVM kernels, real timing."""

import json

from device_profilers.devices import local_cpu
from device_profilers.sync_probe import SyncProbe


def test_first_reading_is_normal_and_recorded(tmp_path):
    probe = SyncProbe(local_cpu(), tmp_path)
    assert probe.wait_until_normal()
    saved = json.loads(probe.record.read_text())
    assert set(saved) == {"fork_join_us", "matmul_us"} and all(v > 0 for v in saved.values())


def test_a_fruitless_wait_times_the_block_anyway_and_relaxes_the_bests(tmp_path):
    unreachable = {"fork_join_us": 1e-6, "matmul_us": 1e-3}  # as if recorded on a far faster host
    record = SyncProbe(local_cpu(), tmp_path).record
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps(unreachable))
    probe = SyncProbe(local_cpu(), tmp_path, max_wait_s=0.5)
    assert not probe.wait_until_normal()
    assert probe.waited_s >= 0.5
    relaxed = json.loads(record.read_text())  # where the next block and the next process start
    assert relaxed == {name: value * probe.relax for name, value in unreachable.items()}
