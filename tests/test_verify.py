"""``canao verify`` on a run directory built from its real parts (an Optuna sqlite study,
the trial log, the report), then damaged the ways a kill or a bug would damage it."""

import sqlite3
from pathlib import Path

import optuna
import pytest
import yaml

from canao_ray.cli import main
from canao_ray.config import SearchConfig
from canao_ray.results import verify_run
from canao_ray.results.report import write_report
from device_profilers.files import append_record

POINTS = [(0.80, 2.0), (0.90, 3.0), (0.70, 2.5)]


@pytest.fixture
def run(tmp_path):
    config = SearchConfig.from_dict({"name": "v", "cache_dir": str(tmp_path / "cache")})
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(config.to_dict()))
    study = optuna.create_study(
        study_name="v", storage=f"sqlite:///{run / 'optuna.db'}", directions=["maximize", "minimize"]
    )
    for number, (score, latency) in enumerate(POINTS):
        space = config.space
        # A distinct architecture each, sampled through the space as a search does.
        study.enqueue_trial(
            {
                "num_layers": space.num_layers[number],
                "num_heads": space.num_heads[0],
                "head_dim": space.head_dim[0],
                "ffn_ratio": space.ffn_ratio[0],
            }
        )
        trial = study.ask()
        space(trial)
        trial.set_user_attr("ray_trial_id", f"t{number}")
        study.tell(trial, [score, latency])
        append_record(
            run / "trials.jsonl",
            {
                "trial_id": f"t{number}",
                "status": "TERMINATED",
                "metrics": {"score": score},
                "latency": {"median_ms": latency},
            },
        )
    write_report(run, study, config.space, config.resolved_objectives(), "canao search")
    return run


def test_a_whole_run_is_consistent(run, capsys):
    verdict = verify_run(run)
    assert verdict.ok and not verdict.notes, verdict
    assert main(["verify", str(run)]) == 0
    assert "consistent" in capsys.readouterr().out


def test_a_last_line_cut_by_a_kill_is_a_note_not_a_problem(run):
    with open(run / "trials.jsonl", "a") as log:
        log.write('{"trial_id": "t9", "sta')
    verdict = verify_run(run)
    assert verdict.ok and any("cut by a kill" in note for note in verdict.notes)


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda run: _edit_log(run, lambda lines: lines[:1] + ["not json"] + lines[1:]), "not JSON records"),
        (lambda run: _edit_log(run, lambda lines: lines + lines[:1]), "logged twice"),
        (
            lambda run: _edit_log(run, lambda lines: [line.replace("0.9", "0.95") for line in lines]),
            "but the study holds",
        ),
        (lambda run: _edit_log(run, lambda lines: lines[1:]), "the log lacks: t0"),
        (lambda run: (run / "pareto.json").write_text("[]"), "but the study's front is"),
        (lambda run: (run / "optuna.db").write_bytes(b"garbage" * 100), "optuna.db"),
        (lambda run: _corrupt_latency_cache(run), "latency.sqlite"),
    ],
)
def test_damage_is_found(run, damage, problem, capsys):
    damage(run)
    verdict = verify_run(run)
    assert any(problem in p for p in verdict.problems), verdict
    assert main(["verify", str(run)]) == 1
    assert "problem" in capsys.readouterr().err


def test_an_unfinished_run_may_lack_log_lines(run):
    (run / "report.md").unlink()
    _edit_log(run, lambda lines: lines[1:])  # the driver died between the study and the log
    verdict = verify_run(run)
    assert verdict.ok and any("has not finished" in note for note in verdict.notes)


def test_not_a_run_directory(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["verify", str(tmp_path)]) == 1


def _edit_log(run, change):
    path = run / "trials.jsonl"
    path.write_text("".join(line + "\n" for line in change(path.read_text().splitlines())))


def _corrupt_latency_cache(run):
    cache = Path(yaml.safe_load((run / "config.yaml").read_text())["cache_dir"])
    cache.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(cache / "latency.sqlite") as db:
        db.execute("CREATE TABLE latency (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO latency VALUES ('L1|local-cpu|tvm|b1|s16', '{\"median_ms\": \"fast\"}')")
