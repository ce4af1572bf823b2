"""The ``canao profile`` and ``canao tune`` commands, run as a user runs them (real processes)."""

import json
import os
import subprocess
import sys

REQUIRED = {"median_ms", "p90_ms", "backend", "device", "batch", "seq_len"}


def _canao(*args, cache_dir):
    env = {**os.environ, "CANAO_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "canao_ray.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_profile_prints_one_json_object_per_backend(tmp_path):
    proc = _canao(
        "profile",
        "--arch",
        '{"num_layers": 1, "hidden_size": 32, "num_heads": 2, "intermediate_size": 64}',
        "--backend",
        "ort,torch",
        "--seq-len",
        "16",
        "--json",
        cache_dir=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [row["backend"] for row in rows] == ["ort", "torch"]
    for row in rows:
        assert set(row) >= REQUIRED and row["median_ms"] > 0 and (row["batch"], row["seq_len"]) == (1, 16)


def test_profile_rejects_bad_arch_and_unreachable_tracker(tmp_path):
    bad = _canao("profile", "--arch", "L2-H100-A3-I10", cache_dir=tmp_path)
    assert bad.returncode == 2 and "not divisible" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    remote = _canao(
        "profile", "--arch", "L1-H32-A2-I64", "--device", "board", "--rpc-tracker", "127.0.0.1:1", cache_dir=tmp_path
    )
    assert remote.returncode == 2 and "cannot reach the TVM RPC tracker at 127.0.0.1:1" in remote.stderr


def test_tune_is_resumable(tmp_path):
    config = tmp_path / "space.yaml"
    config.write_text(
        "task: {seq_len: 16}\n"
        "space: {num_layers: [1, 2], num_heads: [2], head_dim: [16], ffn_ratio: [2]}\n"
        "latency: {tuning: {trials_per_task: 4}}\n"
    )
    first = _canao("tune", "--config", str(config), cache_dir=tmp_path / "cache")
    assert first.returncode == 0, first.stderr
    assert "1 layer shapes" in first.stdout and "0 already in the database" in first.stdout
    again = _canao("tune", "--config", str(config), cache_dir=tmp_path / "cache")
    assert again.returncode == 0 and " 0 tasks tuned" in again.stdout


def test_finalize_rejects_a_directory_that_is_not_a_finished_search(tmp_path):
    missing = _canao("finalize", str(tmp_path / "nothing"), cache_dir=tmp_path)
    assert missing.returncode == 2 and "has no config.yaml" in missing.stderr
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: unfinished\n")
    unfinished = _canao("finalize", str(run), cache_dir=tmp_path)
    assert unfinished.returncode == 2 and "has no pareto.json" in unfinished.stderr
    (run / "pareto.json").write_text("[]")
    empty = _canao("finalize", str(run), cache_dir=tmp_path)
    assert empty.returncode == 2 and "front" in empty.stderr and "is empty" in empty.stderr
    for proc in (missing, unfinished, empty):
        assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "pareto.json"]
