"""Build a small teacher checkpoint of a BERT-family model, locally, with no network.

    python experiments/own_data/make_teacher.py --family roberta --texts experiments/own_data/tickets/train.csv \\
        --out experiments/own_data/teachers/roberta

What a team would download from the hub (a RoBERTa, a DistilBERT) cannot be had offline,
so this builds the same kind of checkpoint: the family's config from ``AutoConfig``,
random weights, a tokenizer trained here on the texts (byte-level BPE with ``<s>``/``</s>``
for the RoBERTa family, WordPiece with ``[CLS]``/``[SEP]`` for the others), all saved with
``save_pretrained`` (weights as safetensors). canao then fine-tunes it on the task like
any pretrained teacher; random weights only mean the teacher knows nothing before that.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

FAMILIES = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert")
BYTE_LEVEL = ("roberta", "xlm-roberta", "camembert")


def _tokenizer(family: str, texts: list[str], vocab_size: int, max_length: int):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    inputs = (
        ["input_ids", "token_type_ids", "attention_mask"]
        if family in ("bert", "electra")
        else ["input_ids", "attention_mask"]
    )
    if family in BYTE_LEVEL:
        special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0-4: RoBERTa's pad is 1
        backend = Tokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
        backend.train_from_iterator(texts, trainer)
        backend.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
        names = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>",
                 "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}  # fmt: skip
    else:
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        backend.normalizer = normalizers.BertNormalizer(lowercase=True)
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
        backend.train_from_iterator(texts, trainer)
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
        )
        names = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                 "mask_token": "[MASK]"}  # fmt: skip
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, model_max_length=max_length, model_input_names=inputs, **names
    )


def build_teacher(
    family: str,
    texts: list[str],
    out: Path,
    *,
    hidden: int = 128,
    layers: int = 4,
    heads: int = 4,
    ffn: int = 512,
    vocab_size: int = 2000,
    seed: int = 0,
) -> Path:
    """A randomly initialised ``family`` classifier and its trained tokenizer, saved in ``out``."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    tokenizer = _tokenizer(family, texts, vocab_size, 512)
    shape = (
        {"dim": hidden, "n_layers": layers, "n_heads": heads, "hidden_dim": ffn}
        if family == "distilbert"
        else {
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": ffn,
        }
    )
    if family == "electra":
        shape["embedding_size"] = hidden // 2  # ELECTRA's narrower embeddings, projected up
    positions = 514 if family in BYTE_LEVEL else 512
    config = AutoConfig.for_model(
        family,
        vocab_size=len(tokenizer),
        max_position_embeddings=positions,
        pad_token_id=tokenizer.pad_token_id,
        **shape,
    )
    if family in BYTE_LEVEL:
        config.type_vocab_size = 1
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def read_texts(path: Path) -> list[str]:
    """Every text cell of a CSV: the columns other than the last (the label)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [cell for row in rows for cell in row[:-1]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=FAMILIES, required=True)
    parser.add_argument("--texts", type=Path, required=True, help="a CSV whose last column is the label")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(build_teacher(args.family, read_texts(args.texts), args.out))


if __name__ == "__main__":
    main()
