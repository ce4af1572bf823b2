"""GLUE tasks as presets of a task, and where their splits are found.

A preset fills a task's columns, kind, metrics and class names. Its splits are read from
``DIR/<task>/{train,dev}.{tsv,csv,json,jsonl,parquet}`` (the layout of the GLUE download
script's output, trimmed or not), or from the hub (``nyu-mll/glue``) without a directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import TaskDataError
from .files import FILE_FORMATS

HUB_DATASET = "nyu-mll/glue"
SPLIT_STEMS = {"train": ("train",), "validation": ("dev", "validation", "dev_matched")}

#: Column names of the GLUE release's TSVs that Hugging Face's ``glue`` renamed.
GLUE_TSV_NAMES = {"score": "label", "Quality": "label", "#1 String": "sentence1", "#2 String": "sentence2"}


def _classification(text_columns: tuple[str, ...], labels: tuple[str, str], *metrics: str) -> dict[str, Any]:
    return {
        "text_columns": text_columns,
        "kind": "classification",
        "metric": metrics[0],
        "report_metrics": metrics[1:],
        "labels": labels,
    }


#: The GLUE tasks by name: the task settings each fills (class names as in ``nyu-mll/glue``).
GLUE_PRESETS: Mapping[str, Mapping[str, Any]] = {
    "sst2": _classification(("sentence",), ("negative", "positive"), "accuracy"),
    "cola": _classification(("sentence",), ("unacceptable", "acceptable"), "matthews_correlation", "accuracy"),
    "mrpc": _classification(("sentence1", "sentence2"), ("not_equivalent", "equivalent"), "f1", "accuracy"),
    "rte": _classification(("sentence1", "sentence2"), ("entailment", "not_entailment"), "accuracy"),
    "qnli": _classification(("question", "sentence"), ("entailment", "not_entailment"), "accuracy"),
    "stsb": {
        "text_columns": ("sentence1", "sentence2"),
        "kind": "regression",
        "metric": "pearson",
        "report_metrics": ("spearmanr",),
    },
}


def glue_split_file(task_dir: Path, split: str) -> Path:
    """The file holding ``split`` (``train`` or ``validation``) in a GLUE task's folder."""
    for stem in SPLIT_STEMS[split]:
        for suffix in FILE_FORMATS:
            path = task_dir / f"{stem}.{suffix}"
            if path.is_file():
                return path
    names = ", ".join(f"{stem}.{{{','.join(FILE_FORMATS)}}}" for stem in SPLIT_STEMS[split])
    raise TaskDataError(f"no {split} split in {str(task_dir)!r}: expected one of {names}")
