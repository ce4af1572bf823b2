"""Students in the teacher's family: BERT, RoBERTa, XLM-R, CamemBERT, ELECTRA, DistilBERT.

Each teacher is a small checkpoint built here (the family's ``AutoConfig``, random weights,
a tokenizer trained on the texts, ``save_pretrained``): no hub. A student of the teacher's
own shape that inherits everything must be the teacher, logit for logit, which checks that
importance, selection and inheritance find every unit of the family; smaller students are
distilled, exported, and compiled by TVM like BERT ones.
"""

import csv
import itertools

import numpy as np
import pytest
import torch
from experiment_scripts import load_script

from canao_ray import SearchConfig
from canao_ray.config import DistillSettings
from canao_ray.data import batches, load_task
from canao_ray.teacher import Distiller, importance, inherit, load_classifier, select
from canao_ray.training import build_model
from search_spaces import Arch

make_teacher = load_script("own_data/make_teacher")
ROWS = [
    ("Invoice", "I was charged twice, please check", "billing"),
    ("Password", "cannot log in since yesterday", "login"),
    ("Parcel", "where is my parcel? it is late", "shipping"),
] * 8
TEACHER_SHAPE = Arch.uniform(2, 32, 2, 64)
STUDENT = Arch.uniform(1, 16, 2, 32)


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    path = tmp_path_factory.mktemp("tickets") / "tickets.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("subject", "body", "intent"), *ROWS])
    return path


def _teacher_and_data(family: str, tickets, tmp_path):
    texts = [cell for row in ROWS for cell in row[:2]]
    directory = make_teacher.build_teacher(
        family, texts, tmp_path / family, hidden=32, layers=2, heads=2, ffn=64, vocab_size=120
    )
    config = SearchConfig.from_dict(
        {
            "task": {"train": str(tickets), "validation": str(tickets), "text_columns": ["subject", "body"],
                     "label_column": "intent", "seq_len": 16},
            "teacher": {"model": str(directory)},
        }
    )  # fmt: skip
    data = load_task(config.task, config.teacher)
    teacher = load_classifier(directory, num_labels=3, ignore_mismatched_sizes=True).eval()
    return teacher, data


@pytest.mark.parametrize("family", make_teacher.FAMILIES)
def test_a_student_of_the_teachers_shape_is_the_teacher_and_smaller_ones_distil(family, tickets, tmp_path):
    teacher, data = _teacher_and_data(family, tickets, tmp_path)
    batch = next(batches(data, data.train, 8, False, 0))
    scores = importance(teacher, [batch])
    inputs = {k: v for k, v in batch.items() if k != "labels"}

    whole = build_model(TEACHER_SHAPE, data, 0, teacher.config).eval()
    inherit(whole, teacher, select(TEACHER_SHAPE, teacher.config, scores))
    torch.testing.assert_close(whole(**inputs).logits, teacher(**inputs).logits, rtol=0, atol=1e-6)

    student = build_model(STUDENT, data, 0, teacher.config)
    assert type(student) is type(teacher) and student.config.model_type == family
    assert student.config.id2label == {0: "billing", 1: "login", 2: "shipping"}
    selection = select(STUDENT, teacher.config, scores)
    inherit(student, teacher, selection)
    loss = Distiller(teacher, selection, DistillSettings(), regression=False).loss(student.train(), batch)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in itertools.islice(student.parameters(), 4))


@pytest.mark.slow
@pytest.mark.parametrize(
    "family", ["roberta", "electra"]
)  # XLM-R, CamemBERT: RoBERTa's graph; DistilBERT: the e2e test
def test_a_student_exports_and_tvm_agrees_with_onnx_runtime(family, tickets, tmp_path):
    from canao_ray.deploy.bundle import bundle_inputs, onnx_logits, pytorch_logits, tvm_logits
    from device_profilers import TuningSettings, local_cpu
    from device_profilers.backends.tvm import TvmBackend
    from device_profilers.export import export_onnx

    teacher, data = _teacher_and_data(family, tickets, tmp_path)
    student = build_model(STUDENT, data, 0, teacher.config).eval()
    inputs = bundle_inputs(data)
    assert ("token_type_ids" in inputs) == (family == "electra")  # RoBERTa and DistilBERT take no token types
    onnx_path = export_onnx(student, tmp_path / "model.onnx", 1, data.seq_len, inputs)
    reference = onnx_logits(onnx_path, data, 2)
    assert np.abs(pytorch_logits(student, data, len(reference)) - reference).max() < 1e-5
    backend = TvmBackend(local_cpu(), str(tmp_path / "cache"), TuningSettings(trials_per_task=0))
    executable, _, _ = backend.compile(onnx_path, 1, data.seq_len)
    backend.export_library(executable, tmp_path / "model.so")
    assert np.abs(tvm_logits(tmp_path / "model.so", data, 8) - reference[:8]).max() < 1e-5
