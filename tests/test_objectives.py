"""Searches over more than two objectives: the config's spelling, and the front and the
hypervolume in N dimensions against brute force. A three-objective search over two
devices runs end to end in ``test_search_end_to_end``."""

import numpy as np
import optuna
import pytest
from pareto_brute_force import brute_front, brute_hypervolume

from canao_ray import ConfigError, SearchConfig
from canao_ray.results import hypervolume, pareto_front
from canao_ray.results.hypervolume import NADIR_MARGIN
from search_spaces import BertSpace

BOARD = {"rpc": {"tracker": "127.0.0.1:9190", "key": "board", "num_threads": 1}}


def test_the_objectives_spelling_names_each_metric_budget_and_device():
    config = SearchConfig.from_dict(
        {
            "objectives": [
                "score",
                {"latency": "local-cpu", "budget_ms": 20.0},
                {"latency": "board", "budget_ms": 80.0},
                "params",
                {"peak_memory": "board"},
                "file_size",
            ],
            "latency": {"devices": {"board": BOARD}},
        }
    )
    objectives = config.resolved_objectives()
    assert objectives.metrics == [
        "score", "latency_ms", "latency_ms@board:tvm", "encoder_params", "peak_memory_mb@board", "file_size_mb",
    ]  # fmt: skip
    assert objectives.modes == ["max", "min", "min", "min", "min", "min"]
    assert objectives.constraints == {
        "latency_over_budget_ms": "latency_budget",
        "latency_over_budget_ms@board:tvm": "latency_budget@board:tvm",
    }
    assert objectives.reference == [0.0, 20.0, 80.0, None, None, None]
    assert [d.name for d in config.measured_devices()] == ["local-cpu", "board"]
    # Without objectives, the two a search always had.
    assert SearchConfig().resolved_objectives().metrics == ["score", "latency_ms"]


@pytest.mark.parametrize(
    "objectives, message",
    [
        (["latency", "score"], "list score first"),
        (["score", "params"], "add a latency"),
        (["score", {"latency": "phone"}], "no device 'phone'"),
        (["score", "latency", {"latency": "local-cpu"}], "local-cpu tvm is listed twice"),
        (
            ["score", {"latency": "local-cpu", "backend": "ort"}, "peak_memory"],
            "add {latency: local-cpu, backend: tvm}",
        ),
        (["score", {"latency": "local-cpu", "budget": 3}], "unknown key 'objectives[1].budget'"),
        (["score", "speed"], "objectives[1]: unknown objective 'speed'"),
        (["score", 3], "give a name (score, latency"),
    ],
)
def test_an_objectives_list_that_cannot_be_measured_is_one_line(objectives, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{").replace("[", r"\[")):
        SearchConfig.from_dict({"objectives": objectives})


def test_front_and_hypervolume_in_four_dimensions_match_brute_force():
    rng = np.random.default_rng(0)
    modes = ["max", "min", "min", "min"]
    points = np.column_stack(
        [rng.uniform(0.5, 1.0, 12), rng.uniform(1, 10, 12), rng.uniform(1, 40, 12), rng.uniform(1, 5, 12)]
    )
    space = BertSpace(num_layers=tuple(range(1, 13)), num_heads=(2,), head_dim=(16,), ffn_ratio=(2,))
    study = optuna.create_study(directions=["maximize", "minimize", "minimize", "minimize"])
    budgets = (8.0, 30.0)
    choices = {"num_layers": list(range(1, 13)), "num_heads": [2], "head_dim": [16], "ffn_ratio": [2]}
    distributions = {name: optuna.distributions.CategoricalDistribution(c) for name, c in choices.items()}
    for layers, point in enumerate(points, start=1):
        study.enqueue_trial({"num_layers": layers, "num_heads": 2, "head_dim": 16, "ffn_ratio": 2})
        trial = study.ask(distributions)
        trial.set_constraint("latency_budget", point[1] - budgets[0])
        trial.set_constraint("latency_budget@board:tvm", point[2] - budgets[1])
        study.tell(trial, list(point))
    metrics = ["score", "latency_ms", "latency_ms@board:tvm", "encoder_params"]
    front = pareto_front(study, space, metrics)
    feasible = [p[1] <= budgets[0] and p[2] <= budgets[1] for p in points]
    expected = brute_front(points, feasible, modes)
    assert sorted(row["number"] for row in front) == sorted(expected)
    assert [row["latency_ms"] for row in front] == sorted(row["latency_ms"] for row in front)
    front_points = [[row[m] for m in metrics] for row in front]
    reference = [0.0, *budgets, None]
    nadir = max(p[3] for p in front_points) * (1 + NADIR_MARGIN)
    assert hypervolume(front_points, modes, reference) == pytest.approx(
        brute_hypervolume(front_points, modes, [0.0, *budgets, nadir])
    )
