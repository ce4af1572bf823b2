"""The ticket data of experiments/own_data in tests: a small local teacher of a family, the
task section over a slice, and what every bundle trained on it must hold."""

import json
from pathlib import Path

from experiment_scripts import EXPERIMENTS, load_script

TICKETS = EXPERIMENTS / "own_data" / "tickets"
LABELS = ("billing", "cancellation", "login", "refund", "shipping")


def tickets_teacher(family: str, out: Path) -> Path:
    """A randomly initialised two-layer teacher of ``family`` whose heads are TINY's (2 x 16)."""
    make_teacher = load_script("own_data/make_teacher")
    texts = make_teacher.read_texts(TICKETS / "train.csv")
    return make_teacher.build_teacher(family, texts, out, hidden=32, layers=2, heads=2, ffn=64, vocab_size=400)


def tickets_task(num_train: int = 400, num_dev: int = 80) -> dict:
    """The example's task section on a slice, at sequence length 16 (TINY's tuned shapes)."""
    return {
        "train": str(TICKETS / "train.csv"),
        "validation": str(TICKETS / "dev.csv"),
        "text_columns": ["subject", "body"],
        "label_column": "intent",
        "metric": "macro_f1",
        "num_train": num_train,
        "num_dev": num_dev,
        "seq_len": 16,
    }


def check_tickets_bundle(bundle: Path, family: str) -> None:
    """ONNX Runtime's accuracy equals PyTorch's, TVM's logits agree, the family and the device
    are recorded, and the bundle, loaded with ``canao_ray.load_model`` (and, for uniform
    layers, with ``from_pretrained``), predicts class names through a transformers pipeline."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from canao_ray import load_model

    metrics = json.loads((bundle / "metrics.json").read_text())
    assert abs(metrics["onnxruntime"]["accuracy"] - metrics["pytorch"]["accuracy"]) <= 0.002
    assert metrics["onnx_max_abs_logit_diff"] < 1e-4 and metrics["tvm_max_abs_logit_diff"] < 1e-4
    description = json.loads((bundle / "canao.json").read_text())
    assert description["family"] == family and description["trained_on"]["device"] == "cpu"
    assert set(description["inputs"]) == {"input_ids", "attention_mask"}  # neither family takes token types
    assert json.loads((bundle / "config.json").read_text())["id2label"] == dict(zip(map(str, range(5)), LABELS))
    model = load_model(bundle)
    if "canao_arch" not in json.loads((bundle / "config.json").read_text()):
        assert type(AutoModelForSequenceClassification.from_pretrained(bundle)) is type(model)
    classify = pipeline(
        "text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(bundle), device="cpu"
    )
    tickets = [{"text": "Refund", "text_pair": "Hi, I want my money back."}, "Hi, my parcel has not arrived."]
    assert {p["label"] for p in classify(tickets)} <= set(LABELS)
