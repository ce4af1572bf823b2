"""A deterministic, self-contained text-classification task and its tokenizer.

Reviews are generated from a small grammar: filler words around one to four opinion
phrases ``[negator] [intensifier] adjective``. The label is the sign of the summed
opinion, where a negator flips a phrase, an intensifier doubles it, and phrases after
"but" count three times. Unigram counting gets part of the way; resolving negation,
intensity and the "but" clause needs attention across positions, so deeper and wider
encoders score higher and the accuracy/latency front is not flat.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIVE = (
    "good great superb lovely brilliant charming moving clever gripping delightful "
    "stunning warm funny elegant fresh vivid honest bold tender sharp"
).split()
NEGATIVE = (
    "bad dull awful clumsy boring bland tedious weak messy shallow "
    "flat stale silly cheap lifeless muddled hollow grim sloppy forced"
).split()
NEGATORS = "not never hardly".split()
INTENSIFIERS = "very really truly".split()
FILLERS = (
    "the a this that movie film plot story acting cast score script ending scene "
    "director pacing was is felt seemed and overall quite of to in with it its"
).split()
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCABULARY = SPECIAL_TOKENS + sorted(set(POSITIVE + NEGATIVE + NEGATORS + INTENSIFIERS + FILLERS + ["but"]))
LABELS = ("negative", "positive")
EMBEDDED_TASK = "embedded"
#: The task settings the embedded preset fills.
EMBEDDED_PRESET = {
    "text_columns": ("text",),
    "kind": "classification",
    "metric": "accuracy",
    "report_metrics": (),
    "labels": LABELS,
}
EMBEDDED_SIZES = (4000, 600)  # generated train and dev examples when the config gives none


@dataclass(frozen=True)
class Example:
    """One generated review and its label (1: positive)."""

    text: str
    label: int


def _phrase(rng: random.Random) -> tuple[list[str], int]:
    polarity = rng.choice((1, -1))
    words = [rng.choice(POSITIVE if polarity > 0 else NEGATIVE)]
    score = polarity
    if rng.random() < 0.3:
        words.insert(0, rng.choice(INTENSIFIERS))
        score *= 2
    if rng.random() < 0.25:
        words.insert(0, rng.choice(NEGATORS))
        score = -score
    return words, score


def _fillers(rng: random.Random, most: int) -> list[str]:
    return [rng.choice(FILLERS) for _ in range(rng.randint(0, most))]


def generate(count: int, seed: int, max_words: int) -> list[Example]:
    """``count`` labelled reviews of at most ``max_words`` words, the same for the same seed."""
    rng = random.Random(seed)
    examples: list[Example] = []
    while len(examples) < count:
        words: list[str] = _fillers(rng, 3)
        score = 0
        has_but = rng.random() < 0.3
        phrases = rng.randint(1, 4)
        but_at = rng.randint(1, phrases - 1) if has_but and phrases > 1 else phrases
        for index in range(phrases):
            if index == but_at:
                words.append("but")
            phrase, value = _phrase(rng)
            words += phrase + _fillers(rng, 2)
            score += value * (2 if index >= but_at else 1)
        if score == 0 or len(words) > max_words:
            continue
        examples.append(Example(" ".join(words), int(score > 0)))
    return examples


def build_tokenizer(model_max_length: int):
    """A word-level ``PreTrainedTokenizerFast`` over the task's closed vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(VOCABULARY)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=model_max_length,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
