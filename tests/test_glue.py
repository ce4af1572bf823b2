"""GLUE presets read from the shared TSVs, and the metrics, checked against their definitions."""

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from canao_ray.config import TaskConfig
from canao_ray.data import TaskDataError, TaskSpec, load_splits, task_metrics

GLUE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue"
needs_glue = pytest.mark.skipif(not GLUE_DIR.is_dir(), reason=f"GLUE data not found at {GLUE_DIR}")


@needs_glue
@pytest.mark.parametrize(
    "name, rows, columns, dtype",
    [
        ("sst2", (67349, 872), ["sentence", "label"], "int64"),
        ("cola", (8551, 1043), ["sentence", "label"], "int64"),
        ("stsb", (5749, 1500), ["sentence1", "sentence2", "label"], "float32"),
    ],
)
def test_local_splits_come_out_in_hugging_face_columns(name, rows, columns, dtype):
    splits = load_splits(TaskConfig(name=name, data_dir=str(GLUE_DIR)))
    assert (len(splits.train), len(splits.validation)) == rows
    assert splits.train.column_names == columns
    assert splits.train.features["label"].dtype == dtype


@needs_glue
def test_quotes_are_text_not_csv_quoting():
    train = load_splits(TaskConfig(name="stsb", data_dir=str(GLUE_DIR))).train
    with_quotes = sum('"' in a or '"' in b for a, b in zip(train["sentence1"], train["sentence2"]))
    lines_with_quotes = sum('"' in line for line in (GLUE_DIR / "stsb" / "train.tsv").open(encoding="utf-8"))
    assert with_quotes == lines_with_quotes > 0


@needs_glue
def test_string_labels_map_to_hugging_face_indices(tmp_path):
    """QNLI's dev TSV names its classes; its train split is not shared here, so the dev file
    stands in for both."""
    (tmp_path / "qnli").mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (tmp_path / "qnli" / name).symlink_to(GLUE_DIR / "qnli" / "dev.tsv")
    splits = load_splits(TaskConfig(name="qnli", data_dir=str(tmp_path)))
    assert splits.validation.column_names == ["question", "sentence", "label"]
    assert set(splits.validation.unique("label")) == {0, 1}  # entailment 0, not_entailment 1, as in nyu-mll/glue
    assert splits.task.label_names == ("entailment", "not_entailment") and len(splits.validation) == 5463


@needs_glue
def test_missing_split_is_a_clear_error():
    with pytest.raises(TaskDataError, match=r"no train split .*qnli.*train\.\{tsv,csv"):
        load_splits(TaskConfig(name="qnli", data_dir=str(GLUE_DIR)))


def test_metrics_match_their_definitions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    logits = rng.normal(size=(400, 2)) + np.eye(2)[labels] * 0.8
    predicted = logits.argmax(-1)
    tp, tn = np.sum((predicted == 1) & (labels == 1)), np.sum((predicted == 0) & (labels == 0))
    fp, fn = np.sum((predicted == 1) & (labels == 0)), np.sum((predicted == 0) & (labels == 1))
    mrpc = task_metrics(TaskSpec("mrpc", ("sentence1", "sentence2"), 2, ("f1", "accuracy")), logits, labels)
    assert mrpc["accuracy"] == pytest.approx((tp + tn) / 400)
    assert mrpc["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    mcc = (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    cola = TaskSpec("cola", ("sentence",), 2, ("matthews_correlation", "accuracy"))
    assert task_metrics(cola, logits, labels)["matthews_correlation"] == pytest.approx(mcc)

    scores = rng.uniform(0, 5, 300)
    noisy = scores + rng.normal(scale=1.0, size=300)
    stsb = task_metrics(
        TaskSpec("stsb", ("sentence1", "sentence2"), 1, ("pearson", "spearmanr")), noisy[:, None], scores
    )
    assert stsb["pearson"] == pytest.approx(pearsonr(noisy, scores)[0])
    assert stsb["spearmanr"] == pytest.approx(spearmanr(noisy, scores)[0])
