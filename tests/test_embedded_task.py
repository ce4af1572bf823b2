from canao_ray.config import TaskConfig
from canao_ray.data import load_task
from canao_ray.data.embedded import build_tokenizer, generate


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


def test_batches_are_padded_to_their_longest_example():
    data = load_task(TaskConfig(num_train=64, num_dev=32, seq_len=24))
    assert len(data.train) == 64 and len(data.dev) == 32
    lengths = [len(ids) for ids in data.train["input_ids"][:8]]
    assert max(lengths) <= 24 and len(set(lengths)) > 1
    batch = data.collate([data.train[i] for i in range(8)])
    assert batch["input_ids"].shape == (8, max(lengths))
    assert batch["attention_mask"].sum(-1).tolist() == lengths
