"""A whole search on a real local Ray cluster, then finalize: a per-layer space in Tune's
YAML spelling, TVM-compiled latency, the user's own CSV with a DistilBERT teacher built
here, the run directory, a checked bundle of a per-layer model."""

import json
from pathlib import Path

import pytest
from protocols import QUICK_PROTOCOL
from tickets import check_tickets_bundle, tickets_task, tickets_teacher

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.results import verify_run
from device_profilers.files import read_records
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real Ray, TVM or processes


def test_three_trial_search_writes_the_run_directory_and_finalize_a_bundle(ray_cluster, tuned_cache, tmp_path):
    fast = {"epochs": 1, "batch_size": 32, "learning_rate": 5e-4}
    config = SearchConfig.from_dict(
        {
            "name": "e2e",
            "task": tickets_task(num_train=200, num_dev=100),
            "teacher": {
                "model": str(tickets_teacher("distilbert", tmp_path / "teacher")),
                "finetune": {**fast, "epochs": 2},
                "importance_batches": 2,
            },  # fmt: skip
            # Three architectures: TINY, two of its layers, and two layers of their own shapes.
            "space": {
                "num_layers": {"choice": [1, 2]},
                "hidden_size": 32,
                "head_dim": 16,
                "layers": [{"num_heads": 2, "ffn_ratio": 2}, {"num_heads": {"choice": [1, 2]}, "ffn_ratio": 2}],
            },
            "search": {"num_samples": 3, "sampler": "controller"},  # CANAO's own sampler, in a real Tune run
            "latency": {
                "budget_ms": 1000.0,
                "tuning": {"trials_per_task": 2, "min_flops_share": 0.1},
                "protocol": QUICK_PROTOCOL,
            },
            "training": {**fast, "epochs": 2},
            "finalize": {"training": fast, "num_train": 200, "max_models": 1},
            "cache_dir": str(tuned_cache),  # TINY's shapes, which every candidate here repeats, tuned
        }
    )
    run_dir = run_search(config, tmp_path / "run")
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    assert len(trials) == 3
    assert {t["arch_key"] for t in trials} == {"L1-H32-A2-I64", "L2-H32-A2-I64", "L2-H32-D16-A2.1-I64"}
    for trial in trials:
        assert trial["status"] in ("TERMINATED", "STOPPED")  # STOPPED: by ASHA, before the last epoch
        assert trial["latency"]["backend"] == "tvm" and trial["latency"]["median_ms"] > 0
        assert 0.0 <= trial["metrics"]["accuracy"] <= 1.0
    front = json.loads((run_dir / "pareto.json").read_text())
    assert front and all(row["latency_ms"] <= 1000.0 for row in front)
    fully_trained = {t["trial_id"] for t in trials if t["status"] == "TERMINATED"}
    assert {row["ray_trial_id"] for row in front} <= fully_trained
    assert all(row["arch_key"].startswith("L") for row in front)
    assert (run_dir / "pareto.png").stat().st_size > 0
    report = (run_dir / "report.md").read_text()
    assert "| trial |" in report
    history = read_records(run_dir / "hypervolume.jsonl")
    assert [r["finished"] for r in history] == [1, 2, 3]
    assert history[-1]["hypervolume"] > 0 and "Hypervolume after 3 finished trials" in report
    assert (run_dir / "hypervolume.png").stat().st_size > 0
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict
    (row,) = finalize_run(run_dir, [Arch.from_key("L2-H32-D16-A2.1-I64")])
    check_tickets_bundle(Path(row["bundle"]), "distilbert")
