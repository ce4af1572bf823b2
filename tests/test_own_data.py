"""A user's own data and teacher: files of every format, class order, regression, the
flat-front warning, and both phases end to end with locally built RoBERTa and DistilBERT
teachers (built here, no hub: see experiments/own_data/make_teacher.py)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from experiment_scripts import EXPERIMENTS
from protocols import QUICK_PROTOCOL
from tickets import LABELS, check_tickets_bundle, tickets_task, tickets_teacher

from canao_ray import SearchConfig, finalize_run, run_search
from canao_ray.config import TaskConfig
from canao_ray.data import TaskSpec, chance_score, load_splits, resolved_labels
from canao_ray.results import flat_front_warning

ROWS = pd.DataFrame(
    {
        "subject": ["Invoice", 'He said "late"', "Parcel, again", "NA"],
        "body": ["charged twice, please check", "cannot log in", "where is it?", "null"],
        "intent": ["billing", "login", "shipping", "billing"],
    }
)


def _task(train: Path, validation: Path | None = None, **settings) -> TaskConfig:
    return TaskConfig(
        train=str(train), validation=str(validation or train), text_columns=["subject", "body"],
        label_column="intent", **settings,
    )  # fmt: skip


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")  # quoted where needed, with a byte-order mark
    elif path.suffix == ".tsv":  # unquoted, as GLUE's are
        path.write_text("\n".join("\t".join(map(str, row)) for row in [frame.columns, *frame.values]) + "\n")
    elif path.suffix == ".json":
        frame.to_json(path, orient="records")
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_format_reads_to_the_same_examples(suffix, tmp_path):
    splits = load_splits(_task(_write(ROWS, tmp_path / f"tickets{suffix}")))
    assert splits.train["subject"] == ROWS["subject"].tolist()  # quotes, commas, "NA" kept as text
    assert splits.train["body"] == ROWS["body"].tolist()
    assert splits.train["label"] == [0, 1, 2, 0] and splits.task.label_names == ("billing", "login", "shipping")


def test_string_classes_take_the_sorted_order_the_run_saves_or_the_order_given(tmp_path):
    path = _write(ROWS, tmp_path / "t.csv")
    task = _task(path)
    splits = load_splits(task)
    assert resolved_labels(task, splits).labels == ("billing", "login", "shipping")
    given = load_splits(_task(path, labels=["shipping", "login", "billing"]))
    assert given.train["label"] == [2, 1, 0, 2] and given.task.id2label()[0] == "shipping"


def test_integer_classes_sort_as_numbers_and_name_themselves(tmp_path):
    stars = ROWS.assign(intent=[10, 2, 3, 10])
    splits = load_splits(_task(_write(stars, tmp_path / "stars.csv")))
    assert splits.task.label_names == ("2", "3", "10") and splits.train["label"] == [2, 0, 1, 2]


def test_a_regression_task_reads_numeric_targets_and_scores_correlations(tmp_path):
    scores = ROWS.assign(intent=[0.5, 1, 4.25, 3])
    splits = load_splits(_task(_write(scores, tmp_path / "s.csv"), kind="regression"))
    assert splits.task.is_regression and splits.task.metrics == ("pearson", "spearmanr")
    assert splits.train["label"] == [0.5, 1.0, 4.25, 3.0]


def test_the_tickets_example_has_its_own_columns_and_five_string_classes():
    config = SearchConfig.from_yaml(EXPERIMENTS / "own_dataset.yaml")
    splits = load_splits(config.task)
    assert config.task.name == "tickets" and config.task.score_name == "macro_f1"
    assert splits.task.label_names == ("billing", "cancellation", "login", "refund", "shipping")
    assert (len(splits.train), len(splits.validation)) == (1600, 400)


def test_a_front_at_chance_level_is_flagged_and_one_above_it_is_not():
    task = TaskSpec("t", ("text",), 3, ("accuracy",), ("a", "b", "c"))
    chance = chance_score(task, np.array([0, 0, 0, 1, 2]), np.array([0, 0, 1, 2]))
    assert chance == 0.5  # the majority class, 0, is half of dev
    assert "raise task.num_train" in flat_front_warning([{"score": 0.505}], chance, "accuracy")
    assert flat_front_warning([{"score": 0.505}, {"score": 0.7}], chance, "accuracy") is None


FAST = {"epochs": 1, "batch_size": 32, "learning_rate": 5e-4}


@pytest.mark.slow
def test_search_then_finalize_on_own_csv_with_a_local_roberta_teacher(ray_cluster, tuned_cache, tmp_path, monkeypatch):
    """The acceptance path on a slice of the tickets with ONNX Runtime latency; the space
    holds only the session's tuned shapes (``conftest.TINY``), so the bundle compiles at
    once. (test_search_end_to_end.py runs a search with a DistilBERT teacher.)"""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = SearchConfig.from_dict(
        {
            "name": "tickets-roberta",
            "task": tickets_task(),
            "teacher": {"model": str(tickets_teacher("roberta", tmp_path / "teacher")),
                        "finetune": {**FAST, "epochs": 3}, "importance_batches": 2},
            "space": {"num_layers": [1, 2], "num_heads": [2], "head_dim": [16], "ffn_ratio": [2]},
            "search": {"num_samples": 2, "sampler": "random"},
            "latency": {"budget_ms": 1000.0, "backend": "ort", "tuning": {"trials_per_task": 0},
                        "protocol": QUICK_PROTOCOL},
            "training": FAST,
            "finalize": {"training": FAST, "num_train": 400, "max_models": 1},
            "cache_dir": str(tuned_cache),
        }
    )  # fmt: skip
    run_dir = run_search(config, tmp_path / "run")
    assert SearchConfig.from_yaml(run_dir / "config.yaml").task.labels == LABELS  # the order the run used
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    assert all(t["metrics"]["train_device"] == "cpu" and "macro_f1" in t["metrics"] for t in trials)
    (row,) = finalize_run(run_dir)
    check_tickets_bundle(Path(row["bundle"]), "roberta")
