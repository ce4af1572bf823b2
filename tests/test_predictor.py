"""The online latency model: exact on shape-linear latencies, honest about its spread,
fed by a real broker's measurements, and summarised in the report."""

import numpy as np
import pytest
from protocols import QUICK_PROTOCOL

from canao_ray.results import predictor_summary
from device_profilers import (
    LatencyPredictor,
    MeasureProtocol,
    Prediction,
    TuningSettings,
    local_cpu,
    measure_latency,
    predict_latency,
    running_broker,
)
from device_profilers.service.predictor import shape_features
from search_spaces import BertSpace

ARCHS = BertSpace(num_layers=(1, 2, 3, 4), num_heads=(2, 4), head_dim=(16, 32), ffn_ratio=(2, 4)).archs()
COSTS = np.array([2e-8, 5e-8, 2e-8, 1e-6, 3e-7, 1e-5, 0.05])  # ms per unit of each shape product


def _latency(arch, noise=0.0, rng=None):
    exact = float(shape_features(arch, 1, 32) @ COSTS)
    return exact * (1 + noise * rng.standard_normal()) if noise else exact


def test_silent_until_it_has_seen_enough_archs():
    predictor = LatencyPredictor(1, 32, min_measurements=8)
    for arch in ARCHS[:7]:
        predictor.add(arch, _latency(arch))
    assert predictor.predict(ARCHS[-1]) is None


def test_exact_on_shape_linear_latency_and_spread_grows_with_noise():
    exact, noisy = LatencyPredictor(1, 32), LatencyPredictor(1, 32)
    rng = np.random.default_rng(0)
    for arch in ARCHS[:-4]:
        exact.add(arch, _latency(arch))
        noisy.add(arch, _latency(arch, 0.1, rng))
    for arch in ARCHS[-4:]:
        guess = exact.predict(arch)
        assert guess.median_ms == pytest.approx(_latency(arch), rel=0.02)
        assert guess.relative_std < 0.02
        assert 0.03 < noisy.predict(arch).relative_std < 0.5


def test_surely_over_needs_the_whole_spread_above_the_budget():
    assert Prediction(2.0, 0.1, 9).surely_over(1.5, z=2.0)  # 2.0 * 0.8 = 1.6 > 1.5
    assert not Prediction(2.0, 0.2, 9).surely_over(1.5, z=2.0)  # 2.0 * 0.6 = 1.2


@pytest.mark.slow
def test_broker_learns_from_its_measurements(ray_cluster, tmp_path):
    # The model learns from whatever the measurements read: one short block each, no quiet-core wait.
    one_block = MeasureProtocol(
        warmup=1, repeats=3, min_repeat_ms=2, blocks=1, block_pause_s=0, max_blocks=1, quiet_wait_s=0
    )
    with running_broker([local_cpu()], str(tmp_path), TuningSettings(trials_per_task=0), one_block):
        measured = {arch: measure_latency(arch, backend="ort", seq_len=32).median_ms for arch in ARCHS[::4]}
        guess = predict_latency(ARCHS[-1], backend="ort", seq_len=32)
        assert guess is not None and guess.measurements == len(measured) and guess.median_ms > 0
        assert predict_latency(ARCHS[-1], backend="tvm", seq_len=32) is None  # nothing measured with TVM


def test_report_line_counts_skips_and_errors():
    trials = [
        {"latency": {"backend": "predicted", "median_ms": None, "predicted_ms": 9.0}},
        {"latency": {"backend": "tvm", "median_ms": 2.0, "predicted_ms": 2.2}},
        {"latency": {"backend": "tvm", "median_ms": 4.0, "predicted_ms": 3.6}},
        {"latency": {"backend": "tvm", "median_ms": 1.0, "predicted_ms": None}},
    ]
    line = predictor_summary(trials)
    assert line.startswith("Latency predictor: 1 candidates skipped")
    assert "on 2 measured candidates its error was 10.0% on average" in line
    assert predictor_summary(trials[3:]) is None


@pytest.mark.slow
def test_search_skips_candidates_the_predictor_is_sure_about(ray_cluster, tmp_path):
    from canao_ray import SearchConfig, run_search
    from device_profilers import profile_arch
    from device_profilers.files import read_records

    # Any consistent latencies serve: the budget is set from the smallest architecture's own reading.
    space = {"num_layers": [1, 2, 3, 4], "num_heads": [2, 4], "head_dim": [16, 32], "ffn_ratio": [2, 4]}
    cache = tmp_path / "cache"
    # The budget lets the space's smallest architecture through (the search's pre-flight
    # check reads its latency from this cache) and little else.
    (smallest,) = profile_arch(
        BertSpace(**{k: tuple(v) for k, v in space.items()}).smallest(),
        local_cpu(),
        ["ort"],
        batch=1,
        seq_len=32,
        cache_dir=cache,
        tuning=TuningSettings(),
        protocol=MeasureProtocol(**QUICK_PROTOCOL),
        use_cache=True,
    )
    config = SearchConfig.from_dict(
        {
            "name": "predictor",
            "task": {"num_train": 100, "num_dev": 50, "seq_len": 32},
            "space": space,
            "search": {"num_samples": 16, "sampler": "random", "trial_cpus": 1},
            "latency": {"budget_ms": 1.2 * smallest.median_ms, "backend": "ort", "predictor": {"min_measurements": 8, "z": 1.0},
                        "protocol": QUICK_PROTOCOL},
            "training": {"epochs": 1},
            "scheduler": {"kind": "none"},
            "cache_dir": str(cache),
        }
    )  # fmt: skip
    run_dir = run_search(config, tmp_path / "run")
    trials = read_records(run_dir / "trials.jsonl")
    backends = [t["latency"]["backend"] for t in trials]
    # The pre-flight measurement is the predictor's first; seven trials measure before it speaks.
    assert backends.count("ort") >= 7 and "predicted" in backends
    assert all(t["status"] == "INFEASIBLE" for t in trials if t["latency"]["backend"] == "predicted")
    assert "Latency predictor: " in (run_dir / "report.md").read_text()
