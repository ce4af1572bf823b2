"""experiments/bench_search.py on the stored table, cut to two seeds: the figures it writes
are the ones issue 5's acceptance reads, so their shape and bounds are checked here."""

import json

from experiment_scripts import load_script


def test_bench_search_writes_bounded_figures_per_budget(tmp_path):
    args = ["--seeds", "2", "--samplers", "random,tpe", "--grace-periods", "2",
            "--reduction-factors", "2", "--md", str(tmp_path / "b.md"), "--json", str(tmp_path / "b.json")]  # fmt: skip
    assert load_script("bench_search").main(args) == 0
    result = json.loads((tmp_path / "b.json").read_text())
    assert [b["label"].split()[1] for b in result["budgets"]] == ["0.5", "0.25"]
    for budget in result["budgets"]:
        for at in budget["samplers"].values():
            assert sorted(at) == ["16", "32", "64"] and all(len(v) == 2 for v in at.values())
            # A search can never beat every architecture evaluated, and its front only grows.
            assert all(
                0 < a <= b <= c <= budget["table_hypervolume"] + 1e-12 for a, b, c in zip(at["16"], at["32"], at["64"])
            )
        (scheduler,) = budget["scheduler"]
        assert (scheduler["grace_period"], scheduler["reduction_factor"]) == (2, 2)
        assert 0 < scheduler["epochs_share"] < 1 and 0 < scheduler["hypervolume_share"] <= 1
        # Knowing the final scores, every trial still trains to the grace period (2 of 8 epochs).
        assert 2 / 8 <= scheduler["oracle_epochs_share"] <= 1
    assert "| grace period (epochs) |" in (tmp_path / "b.md").read_text()
