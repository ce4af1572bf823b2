import optuna

from canao_ray.results import pareto_front, trial_counts
from search_spaces import BertSpace

SPACE = BertSpace(num_layers=(1, 2, 3, 4), num_heads=(2,), head_dim=(16,), ffn_ratio=(2,))
DISTRIBUTIONS = {
    "num_layers": optuna.distributions.CategoricalDistribution([1, 2, 3, 4]),
    "num_heads": optuna.distributions.CategoricalDistribution([2]),
    "head_dim": optuna.distributions.CategoricalDistribution([16]),
    "ffn_ratio": optuna.distributions.CategoricalDistribution([2]),
}


def test_front_keeps_feasible_non_dominated_trials_fastest_first():
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="t")
    points = [
        # (layers, accuracy, latency_ms, over budget by)
        (1, 0.80, 1.0, -0.5),  # front
        (3, 0.90, 2.0, -0.1),  # front
        (2, 0.70, 1.5, -0.2),  # dominated by the first
        (4, 0.99, 3.0, 1.0),  # best accuracy but over budget
    ]
    for layers, accuracy, latency, over in points:
        study.enqueue_trial({"num_layers": layers, "num_heads": 2, "head_dim": 16, "ffn_ratio": 2})
        trial = study.ask(DISTRIBUTIONS)
        trial.set_constraint("latency_budget", over)
        study.tell(trial, [accuracy, latency])
    front = pareto_front(study, SPACE)
    assert [(row["score"], row["latency_ms"]) for row in front] == [(0.80, 1.0), (0.90, 2.0)]
    assert [row["arch_key"] for row in front] == ["L1-H32-A2-I64", "L3-H32-A2-I64"]
    assert front[0]["arch"] == {"num_layers": 1, "hidden_size": 32, "num_heads": 2, "intermediate_size": 64}
    assert "Architectures fully evaluated: 4 (1 over the budget" in trial_counts(study)
