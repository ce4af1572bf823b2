"""GLUE tasks: their presets, and where their splits come from.

Splits are read from ``DIR/<task>/{train,dev}.{tsv,csv,json,jsonl,parquet}`` (the layout
of the GLUE download script's output, trimmed or not), or from the hub (``nyu-mll/glue``)
without a directory. Every split comes out in Hugging Face's column names: the task's
text columns and ``label`` (an int class index, or a float for STS-B).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .spec import TaskSpec

HUB_DATASET = "nyu-mll/glue"
SPLIT_FILES = {"train": ("train",), "validation": ("dev", "validation", "dev_matched")}
FILE_FORMATS = ("tsv", "csv", "json", "jsonl", "parquet")

#: Column names of the GLUE release's TSVs that Hugging Face's ``glue`` renamed.
GLUE_TSV_NAMES = {"score": "label", "Quality": "label", "#1 String": "sentence1", "#2 String": "sentence2"}


#: The GLUE tasks by name, as presets of a task: their columns, label kind and metrics.
GLUE_TASKS: Mapping[str, TaskSpec] = {
    task.name: task
    for task in (
        TaskSpec("sst2", ("sentence",), 2, ("accuracy",)),
        TaskSpec("cola", ("sentence",), 2, ("matthews_correlation", "accuracy")),
        TaskSpec("mrpc", ("sentence1", "sentence2"), 2, ("f1", "accuracy")),
        TaskSpec("rte", ("sentence1", "sentence2"), 2, ("accuracy",), ("entailment", "not_entailment")),
        TaskSpec("qnli", ("question", "sentence"), 2, ("accuracy",), ("entailment", "not_entailment")),
        TaskSpec("stsb", ("sentence1", "sentence2"), 1, ("pearson", "spearmanr")),
    )
}


class GlueDataError(ValueError):
    """A GLUE split cannot be found or read; the message says where it was looked for."""


def glue_task(name: str) -> TaskSpec:
    if name not in GLUE_TASKS:
        raise GlueDataError(f"unknown GLUE task {name!r}; known: {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[name]


def _split_file(task_dir: Path, split: str) -> Path:
    for stem in SPLIT_FILES[split]:
        for suffix in FILE_FORMATS:
            path = task_dir / f"{stem}.{suffix}"
            if path.is_file():
                return path
    names = ", ".join(f"{stem}.{{{','.join(FILE_FORMATS)}}}" for stem in SPLIT_FILES[split])
    raise GlueDataError(f"no {split} split in {str(task_dir)!r}: expected one of {names}")


def _read_file(path: Path):
    """The file as an in-memory ``datasets.Dataset``: read with pandas rather than
    ``datasets.load_dataset``, which would write an Arrow copy into the Hugging Face
    cache, outside the run and cache directories (and print progress bars)."""
    import datasets
    import pandas as pd

    if path.suffix in (".tsv", ".csv"):
        # GLUE's TSVs are not quoted and many sentences hold '"': quoting must be off, and
        # "NA"/"null" are words here, not missing values.
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", quoting=3, keep_default_na=False)
    elif path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_json(path, lines=True)
    return datasets.Dataset.from_pandas(frame, preserve_index=False)


def _normalise(dataset, task: TaskSpec, source: str):
    """Rename GLUE TSV columns to Hugging Face's, drop the rest, make labels numeric."""
    dataset = dataset.rename_columns({k: v for k, v in GLUE_TSV_NAMES.items() if k in dataset.column_names})
    wanted = [*task.text_columns, "label"]
    missing = [name for name in wanted if name not in dataset.column_names]
    if missing:
        raise GlueDataError(
            f"{source}: missing column(s) {', '.join(missing)} for {task.name} (has {', '.join(dataset.column_names)})"
        )
    dataset = dataset.remove_columns([c for c in dataset.column_names if c not in wanted])
    if task.label_names and dataset.features["label"].dtype in ("string", "large_string"):
        index = {name: i for i, name in enumerate(task.label_names)}
        unknown = set(dataset.unique("label")) - set(index)
        if unknown:
            raise GlueDataError(
                f"{source}: unknown label(s) {sorted(unknown)} for {task.name}; expected {list(task.label_names)}"
            )
        dataset = dataset.map(lambda row: {"label": index[row["label"]]})
    import datasets

    dtype = "float32" if task.is_regression else "int64"
    return dataset.cast_column("label", datasets.Value(dtype))


def load_glue(name: str, data_dir: str | Path | None = None, splits: tuple[str, ...] = tuple(SPLIT_FILES)):
    """``datasets.DatasetDict`` with the ``splits`` (``train``, ``validation``) of GLUE task ``name``.

    With ``data_dir``, the splits are read from ``data_dir/name/``; without it, from the
    hub, which needs a network (a clear error otherwise).
    """
    import datasets

    task = glue_task(name)
    if data_dir is None:
        try:
            hub = datasets.load_dataset(HUB_DATASET, name)
        except Exception as error:  # noqa: BLE001 - any hub failure gets the same advice
            raise GlueDataError(
                f"cannot load GLUE {name!r} from the hub ({type(error).__name__}); "
                "set task.data_dir to a directory with <task>/train.tsv and dev.tsv"
            ) from None
        return datasets.DatasetDict({split: _normalise(hub[split], task, HUB_DATASET) for split in splits})
    task_dir = Path(data_dir).expanduser() / name
    if not task_dir.is_dir():
        raise GlueDataError(
            f"no directory {str(task_dir)!r} for GLUE task {name!r}; set task.data_dir to the folder holding {name}/"
        )
    loaded = {}
    for split in splits:
        path = _split_file(task_dir, split)
        loaded[split] = _normalise(_read_file(path), task, str(path))
    return datasets.DatasetDict(loaded)
