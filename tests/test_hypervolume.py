"""Hypervolume figures, and the Tune callback that records them as trials finish."""

import json
from types import SimpleNamespace

import pytest

from canao_ray.hypervolume import HypervolumeHistory, hypervolume, read_history

MODES = ["max", "min"]


def test_hypervolume_of_a_two_point_front():
    # reference (score 0, 10 ms): (0.5, 2) covers 0.5 x 8, (0.8, 6) adds 0.3 x 4
    assert hypervolume([(0.5, 2.0), (0.8, 6.0)], MODES, (0.0, 10.0)) == pytest.approx(4.0 + 1.2)


def test_dominated_and_over_budget_points_add_nothing():
    base = hypervolume([(0.5, 2.0)], MODES, (0.0, 10.0))
    assert hypervolume([(0.5, 2.0), (0.4, 3.0), (0.9, 12.0)], MODES, (0.0, 10.0)) == pytest.approx(base)
    assert hypervolume([], MODES, (0.0, 10.0)) == 0.0


def _trial(trial_id, score, latency, final=True):
    return SimpleNamespace(trial_id=trial_id, last_result={"score": score, "latency_ms": latency, "final": final})


def test_history_grows_with_finished_trials_and_ignores_early_stopped_ones(tmp_path):
    path = tmp_path / "hypervolume.jsonl"
    callback = HypervolumeHistory(path, ["score", "latency_ms"], MODES, (0.0, 10.0))
    callback.on_trial_complete(0, [], _trial("a", 0.5, 2.0))
    callback.on_trial_complete(0, [], _trial("b", 0.9, 1.0, final=False))  # stopped early
    callback.on_trial_error(0, [], SimpleNamespace(trial_id="c", last_result=None))
    callback.on_trial_complete(0, [], _trial("d", 0.8, 6.0))
    with open(path, "a") as stream:
        stream.write('{"finished": 5, "hyperv')  # a line cut short by a kill
    history = read_history(path)
    assert [r["finished"] for r in history] == [1, 2, 3, 4]
    assert [r["hypervolume"] for r in history] == pytest.approx([4.0, 4.0, 4.0, 5.2])
    assert json.loads(path.read_text().splitlines()[0])["trial_id"] == "a"
