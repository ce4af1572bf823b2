from types import SimpleNamespace

from ray.tune.schedulers import TrialScheduler

from canao_ray.search import ParetoASHA, nondomination_ranks


def test_nondomination_ranks():
    # minimising both: (1,3) and (2,1) are non-dominated; (2,4) is dominated by (1,3); (3,5) by all
    assert nondomination_ranks([(1, 3), (2, 1), (2, 4), (3, 5)]) == [0, 0, 1, 2]


def _report(scheduler, trial_id, accuracy, latency, epoch=1):
    trial = SimpleNamespace(trial_id=trial_id)
    return scheduler.on_trial_result(None, trial, {"score": accuracy, "latency_ms": latency, "epoch": epoch})


def test_fast_less_accurate_trials_survive_but_dominated_ones_stop():
    scheduler = ParetoASHA(max_t=4, grace_period=1, reduction_factor=2)
    assert _report(scheduler, "big", 0.90, 5.0) == TrialScheduler.CONTINUE
    # ASHA on accuracy alone would stop this one: it is less accurate but much faster.
    assert _report(scheduler, "fast", 0.70, 0.5) == TrialScheduler.CONTINUE
    # Slower and less accurate than "big": on the second front, with two trials ahead of it.
    assert _report(scheduler, "bad", 0.60, 6.0) == TrialScheduler.STOP
    # Epochs between rungs are not judged again.
    assert _report(scheduler, "fast", 0.72, 0.5, epoch=1) == TrialScheduler.CONTINUE
    assert _report(scheduler, "big", 0.91, 5.0, epoch=3) == TrialScheduler.CONTINUE


def test_crowded_middle_of_a_front_stops_once_the_ends_are_known():
    """Every trial here is Pareto-optimal (accuracy rises with latency); without the
    crowding distance nothing would ever stop."""
    scheduler = ParetoASHA(max_t=4, grace_period=1, reduction_factor=2)
    assert _report(scheduler, "slow", 0.90, 5.0) == TrialScheduler.CONTINUE
    assert _report(scheduler, "fast", 0.70, 0.5) == TrialScheduler.CONTINUE
    # Non-dominated, but between the two ends, with both ends ahead of it: 2 of 3 points
    # come before it, and a rung of 3 keeps ceil(3 / 2) = 2.
    assert _report(scheduler, "middle", 0.80, 2.7) == TrialScheduler.STOP
    # A new end of the front is never stopped.
    assert _report(scheduler, "faster", 0.65, 0.3) == TrialScheduler.CONTINUE


def test_a_third_objective_keeps_a_trial_that_two_would_stop():
    """Slower and less accurate than "big", so stopped over two objectives; on a board
    where it is the fastest, it is Pareto-optimal over three and continues."""
    metrics, modes = ("score", "latency_ms", "latency_ms@board:tvm"), ("max", "min", "min")
    two, three = ParetoASHA(max_t=4), ParetoASHA(metrics, modes, max_t=4)
    results = {"big": (0.90, 5.0, 9.0), "fast": (0.70, 0.5, 8.0), "odd": (0.60, 6.0, 1.0)}
    for trial_id, values in results.items():
        report = {**dict(zip(metrics, values)), "epoch": 1}
        decisions = [s.on_trial_result(None, SimpleNamespace(trial_id=trial_id), report) for s in (two, three)]
    assert decisions == [TrialScheduler.STOP, TrialScheduler.CONTINUE]
