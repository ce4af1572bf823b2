"""experiments/plain_tune_example.py, run as a user would run its ``main``: a plain Tune
script with the canao lines added, on the shared local Ray. ONNX Runtime stands in for
TVM to keep the test short (the script's default is TVM; the broker path is the same)."""

import pytest
from experiment_scripts import load_script

from device_profilers.files import read_records

pytestmark = pytest.mark.slow
#: The test checks what the script reports, not the latency's value: short blocks, no quiet-core wait.
QUICK = "{warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}"


def test_plain_tune_script_reports_latency_and_hypervolume(ray_cluster, tmp_path, capsys):
    script = load_script("plain_tune_example")
    args = ["--num-samples", "3", "--backend", "ort", "--budget-ms", "5", "--out", str(tmp_path / "out"),
            "--cache-dir", str(tmp_path / "cache"), "--protocol", QUICK]  # fmt: skip
    assert script.main(args) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if ": accuracy " in line]
    assert len(lines) == 3 and all(" ms, epochs " in line for line in lines)
    history = read_records(tmp_path / "out" / "hypervolume.jsonl")
    assert [r["finished"] for r in history] == [1, 2, 3] and history[-1]["hypervolume"] > 0
