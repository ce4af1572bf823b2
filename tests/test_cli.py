"""The ``canao profile``, ``tune`` and ``finalize`` commands through ``canao_ray.cli.main``,
in this process, on the shared local Ray where they need one."""

import json

import pytest
import yaml
from conftest import TINY_TUNE_CONFIG

from canao_ray.cli import main

REQUIRED = {"median_ms", "p90_ms", "backend", "device", "batch", "seq_len"}
#: The test checks what profile prints, not the latency's value: short blocks, no quiet-core wait.
QUICK = "{warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CANAO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.slow
def test_profile_prints_one_json_object_per_backend(ray_cluster, capsys):
    arch = '{"num_layers": 1, "hidden_size": 32, "num_heads": 2, "intermediate_size": 64}'
    assert (
        main(["profile", "--arch", arch, "--backend", "ort,torch", "--seq-len", "16", "--protocol", QUICK, "--json"])
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [row["backend"] for row in rows] == ["ort", "torch"]
    for row in rows:
        assert set(row) >= REQUIRED and row["median_ms"] > 0 and (row["batch"], row["seq_len"]) == (1, 16)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "L2-H100-A3-I10"], "not divisible"),
        (
            ["--arch", "L1-H32-A2-I64", "--device", "board", "--rpc-tracker", "127.0.0.1:1"],
            "cannot reach the TVM RPC tracker at 127.0.0.1:1",
        ),
        (["--arch", "L1-H32-A2-I64", "--backend", "tensorrt"], "--backend: unknown backend 'tensorrt'"),
        (["--arch", "L1-H32-A2-I64", "--protocol", "{blocks: 0}"], "protocol.blocks must be at least 1"),
    ],
)
def test_profile_rejects_bad_input_with_one_line(args, message, capsys):
    assert main(["profile", *args]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.slow
def test_tune_is_resumable(tiny_tuning, tuned_cache, tmp_path, capsys):
    # The session's first `canao tune` of this space (the tuned_cache fixture): two
    # architectures, one layer shape, nothing in the database before.
    assert tiny_tuning["shapes"] == 1 and tiny_tuning["tuned_tasks"] > 0 and tiny_tuning["reused_tasks"] == 0
    config = tmp_path / "space.yaml"
    config.write_text(yaml.safe_dump({**TINY_TUNE_CONFIG, "cache_dir": str(tuned_cache)}))
    assert main(["tune", "--config", str(config)]) == 0
    again = capsys.readouterr().out
    assert "1 layer shapes: 0 tasks tuned" in again and f"{tiny_tuning['tuned_tasks']} already in the database" in again


def test_finalize_rejects_a_directory_that_is_not_a_finished_search(tmp_path, capsys):
    codes, errors = [], []

    def finalize(path):
        codes.append(main(["finalize", str(path)]))
        errors.append(capsys.readouterr().err)

    finalize(tmp_path / "nothing")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: unfinished\n")
    finalize(run)
    (run / "pareto.json").write_text("[]")
    finalize(run)
    assert codes == [2, 2, 2]
    assert "has no config.yaml" in errors[0] and "has no pareto.json" in errors[1]
    assert "front" in errors[2] and "is empty" in errors[2]
    assert all(len(error.strip().splitlines()) == 1 for error in errors)
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "pareto.json"]
