"""experiments/plain_tune_example.py, run as a user would: a plain Tune script with the
canao lines added. ONNX Runtime stands in for TVM to keep the test short (the script's
default is TVM; the broker path is the same)."""

import subprocess
import sys
from pathlib import Path

from device_profilers.files import read_records

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "plain_tune_example.py"


def test_plain_tune_script_reports_latency_and_hypervolume(tmp_path):
    command = [sys.executable, str(SCRIPT), "--num-samples", "3", "--backend", "ort", "--budget-ms", "5",
               "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if ": accuracy " in line]
    assert len(lines) == 3 and all(" ms, epochs " in line for line in lines)
    history = read_records(tmp_path / "out" / "hypervolume.jsonl")
    assert [r["finished"] for r in history] == [1, 2, 3] and history[-1]["hypervolume"] > 0
