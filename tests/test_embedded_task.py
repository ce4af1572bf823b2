from canao_ray.config import TaskConfig
from canao_ray.embedded_task import build_tokenizer, generate
from canao_ray.training import load_task


def test_generation_is_deterministic_and_balanced():
    first = generate(500, seed=3, max_words=30)
    assert first == generate(500, seed=3, max_words=30)
    assert all(len(e.text.split()) <= 30 for e in first)
    positives = sum(e.label for e in first) / len(first)
    assert 0.35 < positives < 0.65


def test_tokenizer_covers_the_vocabulary():
    tokenizer = build_tokenizer(32)
    ids = tokenizer("the movie was not very good but funny")["input_ids"]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    assert tokenizer.unk_token_id not in ids


def test_load_task_pads_to_sequence_length():
    data = load_task(TaskConfig(num_train=64, num_dev=32, seq_len=24))
    assert len(data.train) == 64 and len(data.dev) == 32
    assert data.train[0]["input_ids"].shape[0] == 24
