"""Export an Arch to ONNX, the one graph format every backend here reads."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from search_spaces import Arch, to_bert_config

#: Vocabulary size used when only latency matters: the embedding lookup's cost does not
#: depend on it, and a small table keeps export and compilation fast.
LATENCY_VOCAB_SIZE = 1024


def build_classifier(arch: Arch, seq_len: int, vocab_size: int = LATENCY_VOCAB_SIZE) -> torch.nn.Module:
    """A randomly initialised two-label BERT classifier of the given shape, in eval mode."""
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    config = to_bert_config(arch, vocab_size=vocab_size, max_position_embeddings=seq_len)
    return BertForSequenceClassification(config).eval()


class LogitsOnly(torch.nn.Module):
    """Maps ``input_ids`` to ``logits``: the one input and output every backend is given."""

    def __init__(self, classifier: torch.nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.classifier(input_ids=input_ids).logits


def export_onnx(model: torch.nn.Module, path: str | os.PathLike, batch: int, seq_len: int) -> Path:
    """Export a classifier (input_ids -> logits) with the dynamo exporter at a fixed shape.

    The dynamo exporter is required: the legacy exporter's BERT graph uses
    ConstantOfShape patterns that TVM's ONNX importer rejects. Written to a temporary
    name and renamed, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    input_ids = torch.zeros(batch, seq_len, dtype=torch.long)
    program = torch.onnx.export(
        LogitsOnly(model).eval(),
        (input_ids,),
        dynamo=True,
        input_names=["input_ids"],
        output_names=["logits"],
        optimize=True,
        verbose=False,
    )
    tmp = path.with_name(path.name + ".partial")
    program.save(str(tmp))
    os.replace(tmp, path)
    return path
