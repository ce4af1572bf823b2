"""Hypervolume figures, and the Tune callback that records them as trials finish."""

from types import SimpleNamespace

import pytest

from canao_ray.results import HypervolumeHistory, hypervolume
from device_profilers.files import read_records

MODES = ["max", "min"]


def test_hypervolume_of_a_two_point_front():
    # reference (score 0, 10 ms): (0.5, 2) covers 0.5 x 8, (0.8, 6) adds 0.3 x 4
    assert hypervolume([(0.5, 2.0), (0.8, 6.0)], MODES, (0.0, 10.0)) == pytest.approx(4.0 + 1.2)


def test_dominated_and_over_budget_points_add_nothing():
    base = hypervolume([(0.5, 2.0)], MODES, (0.0, 10.0))
    assert hypervolume([(0.5, 2.0), (0.4, 3.0), (0.9, 12.0)], MODES, (0.0, 10.0)) == pytest.approx(base)
    assert hypervolume([], MODES, (0.0, 10.0)) == 0.0


def _trial(trial_id, score=None, latency=None, final=True):
    result = None if score is None else {"score": score, "latency_ms": latency, "final": final}
    return SimpleNamespace(trial_id=trial_id, last_result=result)


def _callback(path):
    callback = HypervolumeHistory(path, ["score", "latency_ms"], MODES, (0.0, 10.0))
    callback.setup()
    return callback


def test_history_grows_with_finished_trials_and_ignores_early_stopped_ones(tmp_path):
    path = tmp_path / "hypervolume.jsonl"
    callback = _callback(path)
    callback.on_trial_complete(0, [], _trial("a", 0.5, 2.0))
    callback.on_trial_complete(0, [], _trial("b", 0.9, 1.0, final=False))  # stopped early
    callback.on_trial_error(0, [], _trial("c"))
    history = read_records(path)
    assert [r["finished"] for r in history] == [1, 2, 3]
    assert [r["hypervolume"] for r in history] == pytest.approx([4.0, 4.0, 4.0])
    assert [r["point"] for r in history] == [[0.5, 2.0], None, None]


def test_a_resumed_run_continues_the_history(tmp_path):
    path = tmp_path / "hypervolume.jsonl"
    _callback(path).on_trial_complete(0, [], _trial("a", 0.5, 2.0))
    with open(path, "a") as stream:
        stream.write('{"finished": 2, "hyperv')  # the interrupted driver was killed mid-write
    resumed = _callback(path)
    resumed.on_trial_complete(0, [], _trial("a", 0.6, 2.0))  # rerun by Tune: already recorded
    resumed.on_trial_complete(0, [], _trial("d", 0.8, 6.0))
    history = read_records(path)
    assert [(r["finished"], r["trial_id"]) for r in history] == [(1, "a"), (2, "d")]
    assert history[-1]["hypervolume"] == pytest.approx(5.2)
    assert path.read_text().count("\n") == 2
