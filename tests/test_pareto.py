import optuna

from canao_ray.results import pareto_front


def test_front_keeps_feasible_non_dominated_trials_fastest_first():
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="t")
    points = [
        # (accuracy, latency_ms, over budget by)
        (0.80, 1.0, -0.5),  # front
        (0.90, 2.0, -0.1),  # front
        (0.70, 1.5, -0.2),  # dominated by the first
        (0.99, 3.0, 1.0),  # best accuracy but over budget
    ]
    for accuracy, latency, over in points:
        trial = study.ask({"num_layers": optuna.distributions.CategoricalDistribution([1, 2])})
        trial.set_constraint("latency_budget", over)
        study.tell(trial, [accuracy, latency])
    front = pareto_front(study)
    assert [(row["accuracy"], row["latency_ms"]) for row in front] == [(0.80, 1.0), (0.90, 2.0)]
