"""Weight inheritance and the distillation loss, on small random BERT models."""

import pytest
import torch
from transformers import BertForSequenceClassification

from canao_ray.config import DistillSettings
from canao_ray.teacher import Distiller, Importance, importance, inherit, select
from search_spaces import Arch, to_bert_config

TEACHER = Arch.uniform(3, 96, 6, 192)  # head size 16


def _model(arch: Arch, positions: int = 40, seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    return BertForSequenceClassification(to_bert_config(arch, vocab_size=50, max_position_embeddings=positions)).eval()


def _batches(count: int = 3):
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "input_ids": torch.randint(0, 50, (8, 20), generator=generator),
            "attention_mask": torch.ones(8, 20, dtype=torch.long),
            "labels": torch.randint(0, 2, (8,), generator=generator),
        }
        for _ in range(count)
    ]


def test_importance_has_one_score_per_unit_and_leaves_no_hooks():
    teacher = _model(TEACHER)
    before = teacher(input_ids=_batches()[0]["input_ids"]).logits
    scores = importance(teacher, _batches())
    assert scores.layers.shape == (3,) and scores.heads.shape == (3, 6)
    assert scores.ffn.shape == (3, 192) and scores.hidden.shape == (96,)
    assert all((value > 0).any() for value in scores.__dict__.values())
    assert torch.equal(teacher(input_ids=_batches()[0]["input_ids"]).logits, before)


def test_a_student_of_the_teachers_shape_is_the_teacher():
    teacher = _model(TEACHER)
    student = _model(TEACHER, positions=32, seed=1)
    inherit(student, teacher, select(TEACHER, teacher.config, importance(teacher, _batches())))
    ids = _batches()[0]["input_ids"]
    assert torch.allclose(student(input_ids=ids).logits, teacher(input_ids=ids).logits, atol=1e-6)


def test_the_most_important_units_are_kept_in_order():
    teacher = _model(TEACHER)
    scores = Importance(
        layers=torch.tensor([3.0, 1.0, 2.0]),
        heads=torch.arange(18, dtype=torch.float).reshape(3, 6),  # later heads more important
        ffn=-torch.arange(576, dtype=torch.float).reshape(3, 192),  # earlier units more important
        hidden=torch.arange(96, dtype=torch.float),
    )
    student_arch = Arch.uniform(2, 48, 3, 64)  # head size 16, like the teacher: heads are kept whole
    selection = select(student_arch, teacher.config, scores)
    assert selection.layers == (0, 2)
    assert selection.hidden.tolist() == list(range(48, 96))
    assert selection.attention[0].tolist() == list(range(48, 96))  # heads 3, 4, 5
    assert selection.ffn[1].tolist() == list(range(64))
    student = _model(student_arch, seed=2)
    inherit(student, teacher, selection)
    query = teacher.bert.encoder.layer[2].attention.self.query.weight
    assert torch.equal(student.bert.encoder.layer[1].attention.self.query.weight, query[48:96, 48:96])
    ffn_out = teacher.bert.encoder.layer[2].output.dense.weight
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight, ffn_out[48:96, :64])


def test_dimensions_beyond_the_teacher_stay_freshly_initialised():
    teacher = _model(TEACHER)
    wide = Arch.uniform(4, 128, 8, 256)
    student = _model(wide, seed=3)
    fresh = student.bert.encoder.layer[3].attention.self.query.weight.clone()
    inherit(student, teacher, select(wide, teacher.config, importance(teacher, _batches())))
    assert torch.equal(student.bert.encoder.layer[3].attention.self.query.weight, fresh)  # no 4th teacher layer
    copied = student.bert.encoder.layer[0].intermediate.dense.weight
    initial = _model(wide, seed=3).bert.encoder.layer[0].intermediate.dense.weight
    assert torch.equal(copied[192:], initial[192:])  # rows past the teacher's FFN untouched
    assert torch.equal(copied[:, 96:], initial[:, 96:])  # columns past the teacher's hidden size
    assert not torch.equal(copied[:192, :96], initial[:192, :96])


@pytest.mark.parametrize("hidden_weight", [0.0, 1.0])
def test_distilling_from_an_identical_teacher_leaves_only_the_task_loss(hidden_weight):
    teacher = _model(TEACHER)
    selection = select(TEACHER, teacher.config, importance(teacher, _batches()))
    student = _model(TEACHER, seed=1)
    inherit(student, teacher, selection)
    settings = DistillSettings(temperature=3.0, logit_weight=0.25, hidden_weight=hidden_weight)
    batch = _batches()[0]
    loss = Distiller(teacher, selection, settings, regression=False).loss(student, batch)
    assert loss.item() == pytest.approx(0.75 * student(**batch).loss.item(), rel=1e-5, abs=1e-6)
    loss.backward()
    assert student.classifier.weight.grad is not None and teacher.classifier.weight.grad is None
