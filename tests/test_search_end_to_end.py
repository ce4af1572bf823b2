"""A whole search on a real local Ray cluster, then finalize: a per-layer space in Tune's
YAML spelling, three objectives (the score, TVM-compiled latency on this CPU and on a
board reached over TVM RPC, a budget on each), the user's own CSV with a DistilBERT
teacher built here, the run directory checked against brute force, a checked bundle of
a per-layer model. The board is this machine's CPU registered on a loopback tracker."""

import json
import shutil
from pathlib import Path

import pytest
from loopback import rpc_loopback
from pareto_brute_force import brute_front, brute_hypervolume
from protocols import QUICK_PROTOCOL
from tickets import check_tickets_bundle, tickets_task, tickets_teacher

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.results import verify_run
from device_profilers.files import read_records
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real Ray, TVM or processes


BUDGETS = (1000.0, 2000.0)  # ms on this CPU, on the board
METRICS = ["score", "latency_ms", "latency_ms@board:tvm"]


@pytest.fixture
def board(monkeypatch, tuned_cache):
    """One RPC server registered as ``board``, timing with one thread; its tuning database
    starts as the local CPU's (the board is this CPU: TINY's shapes are its shapes)."""
    shutil.copytree(tuned_cache / "tvm" / "local-cpu", tuned_cache / "tvm" / "board")
    monkeypatch.setenv("TVM_NUM_THREADS", "1")  # restored after the test
    with rpc_loopback("board", servers=1, threads=1) as address:
        yield address


def test_three_trial_search_writes_the_run_directory_and_finalize_a_bundle(ray_cluster, tuned_cache, board, tmp_path):
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
            "objectives": [
                "score",
                {"latency": "local-cpu", "budget_ms": BUDGETS[0]},
                {"latency": "board", "budget_ms": BUDGETS[1]},
            ],
            "latency": {
                "devices": {"board": {"rpc": {"tracker": board, "key": "board", "num_threads": 1}}},
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
        assert trial["latency"]["backend"] == "tvm" and trial["latency"]["device"] == "local-cpu"
        assert 0.0 <= trial["metrics"]["accuracy"] <= 1.0
        assert set(trial["objectives"]) == set(METRICS) and min(trial["objectives"].values()) > 0
        assert trial["latencies"]["latency_ms@board:tvm"]["device"] == "board"

    # Brute force over the run's own fully trained trials: the front, its hypervolume, the report.
    done = [t for t in trials if t["status"] == "TERMINATED"]
    modes = ["max", "min", "min"]
    points = [[t["objectives"][m] for m in METRICS] for t in done]
    feasible = [p[1] <= BUDGETS[0] and p[2] <= BUDGETS[1] for p in points]
    front = json.loads((run_dir / "pareto.json").read_text())
    assert {row["ray_trial_id"] for row in front} == {done[i]["trial_id"] for i in brute_front(points, feasible, modes)}
    history = read_records(run_dir / "hypervolume.jsonl")
    assert [r["finished"] for r in history] == [1, 2, 3]
    assert history[-1]["hypervolume"] == pytest.approx(brute_hypervolume(points, modes, [0.0, *BUDGETS]))
    report = (run_dir / "report.md").read_text()
    assert "| trial |" in report and "latency on board, tvm (ms)" in report and "at most 2000 ms" in report
    for row in front:
        assert f"| {row['arch_key']} |" in report and f"{row['latency_ms@board:tvm']:.3f} |" in report
    assert f"Hypervolume after 3 finished trials: {history[-1]['hypervolume']:.4g}" in report
    for figure in ("pareto.png", "parallel.png", "hypervolume.png"):
        assert (run_dir / figure).stat().st_size > 0
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict
    (row,) = finalize_run(run_dir, [Arch.from_key("L2-H32-D16-A2.1-I64")])
    check_tickets_bundle(Path(row["bundle"]), "distilbert")
