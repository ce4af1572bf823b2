"""A task's train and validation splits, read and checked before anything trains on them.

Whatever the source (generated, a GLUE preset's folder, the user's files, the hub), the
splits come out with the task's text columns as strings and ``label`` as a class index
(or a float for regression), and every problem with the data is a ``TaskDataError``
naming the file, the column or the value: a search never starts on data it cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .embedded import EMBEDDED_SIZES, EMBEDDED_TASK, generate
from .errors import TaskDataError
from .files import read_table
from .glue import GLUE_TSV_NAMES, HUB_DATASET, glue_split_file
from .spec import TaskSpec

if TYPE_CHECKING:
    import pandas as pd

    from ..config import TaskConfig

SPLITS = ("train", "validation")


@dataclass(frozen=True)
class Splits:
    """The checked splits (``datasets.Dataset``: text columns, ``label``) and the task they resolve."""

    task: TaskSpec
    train: Any
    validation: Any


@dataclass(frozen=True)
class _Frame:
    """One split's rows as read, and how errors name where they came from."""

    rows: pd.DataFrame
    where: str  # e.g. "task.train 'data/train.csv'"


def _generated(task: TaskConfig) -> dict[str, _Frame]:
    import pandas as pd

    counts = {"train": task.num_train or EMBEDDED_SIZES[0], "validation": task.num_dev or EMBEDDED_SIZES[1]}
    seeds = {"train": task.seed, "validation": task.seed + 1_000_003}
    frames = {}
    for split in SPLITS:
        examples = generate(counts[split], seeds[split], task.seq_len - 2)  # room for [CLS] and [SEP]
        rows = pd.DataFrame({"text": [e.text for e in examples], "label": [e.label for e in examples]})
        frames[split] = _Frame(rows, f"the generated {split} split")
    return frames


def _from_hub(name: str, config: str | None, split: str, what: str) -> _Frame:
    import datasets

    try:
        rows = datasets.load_dataset(name, config, split=split).to_pandas()
    except Exception as error:  # noqa: BLE001 - any hub failure gets the same advice
        raise TaskDataError(
            f"{what}: cannot load {name!r} ({config or 'default'}, {split}) from the hub ({type(error).__name__}); "
            "give local files instead when offline"
        ) from None
    return _Frame(rows, f"{what} (hub {name}, {split})")


def _from_file(path: str, what: str) -> _Frame:
    return _Frame(read_table(Path(path).expanduser(), what), f"{what} {path!r}")


def _read(task: TaskConfig) -> dict[str, _Frame]:
    if task.train is None and task.name == EMBEDDED_TASK:
        return _generated(task)
    if task.train is None:  # a GLUE preset
        if task.data_dir is None:
            return {split: _from_hub(HUB_DATASET, task.name, split, f"GLUE {task.name}") for split in SPLITS}
        frames = {}
        for split in SPLITS:
            path = glue_split_file(Path(task.data_dir).expanduser() / task.name, split)
            frame = _from_file(str(path), f"GLUE {task.name}")
            frames[split] = _Frame(frame.rows.rename(columns=GLUE_TSV_NAMES), frame.where)
        return frames
    frames = {}
    for split in SPLITS:
        source, what = getattr(task, split), f"task.{split}"
        if isinstance(source, str):
            frames[split] = _from_file(source, what)
        else:
            frames[split] = _from_hub(source.hub.name, source.hub.config, source.hub.split, what)
    return frames


def _check_columns(frame: _Frame, task: TaskConfig) -> None:
    rows = frame.rows
    if len(rows) == 0:
        raise TaskDataError(f"{frame.where} has no examples; a split needs at least one row")
    for column, setting in [*((c, "text_columns") for c in task.text_columns), (task.label_column, "label_column")]:
        if column not in rows.columns:
            raise TaskDataError(
                f"{frame.where} has no column {column!r} (its columns: {', '.join(map(str, rows.columns))}); "
                f"name the right one in task.{setting}"
            )
    for column in task.text_columns:
        if not rows[column].map(_text).str.strip().astype(bool).any():
            raise TaskDataError(
                f"{frame.where}: text column {column!r} is empty in every row; name the column holding the text in task.text_columns"
            )


def _text(value: Any) -> str:
    """A text cell as a string: missing cells (null in JSON or parquet) are empty text."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _label_key(value: Any) -> str | None:
    """A label cell as the string a class is named by: ``3`` and ``3.0`` are ``"3"``; None if missing."""
    if isinstance(value, (bool, np.bool_)):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else str(int(value)) if float(value).is_integer() else str(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _is_integer(key: str) -> bool:
    return key.lstrip("-").isdigit()


def _keys(frame: _Frame, column: str) -> list[str]:
    keys = [_label_key(value) for value in frame.rows[column]]
    if None in keys:
        raise TaskDataError(
            f"{frame.where}: row {keys.index(None) + 1} has no label in column {column!r}; label every example or drop it"
        )
    return keys


def _class_indices(task: TaskConfig, frames: dict[str, _Frame]) -> tuple[tuple[str, ...], dict[str, list[int]]]:
    """The class names in index order, and each split's labels as indices."""
    keys = {split: _keys(frames[split], task.label_column) for split in SPLITS}
    train, where = keys["train"], frames["train"].where
    if task.labels is not None:
        names = tuple(str(label) for label in task.labels)
        if not any(map(_is_integer, names)) and all(map(_is_integer, train + keys["validation"])):
            # Integer labels with named classes are indices (as the hub's ClassLabel columns hold them).
            names_by_index = {str(i): name for i, name in enumerate(names)}
            keys = {split: [names_by_index.get(k, k) for k in values] for split, values in keys.items()}
            train = keys["train"]
        for split in SPLITS:
            unknown = next((k for k in keys[split] if k not in names), None)
            if unknown is not None:
                raise TaskDataError(
                    f"{frames[split].where}: label {unknown!r} (row {keys[split].index(unknown) + 1}) is not one of "
                    f"task.labels {list(names)}; add it there or fix the row"
                )
        absent = next((name for name in names if name not in set(train)), None)
        if absent is not None:
            raise TaskDataError(
                f"{where}: class {absent!r} of task.labels has no training example; add examples of it or remove it from task.labels"
            )
    else:
        distinct = set(train)
        numeric = all(map(_is_integer, distinct))
        names = tuple(sorted(distinct, key=int if numeric else None))
        if len(names) < 2:
            raise TaskDataError(
                f"{where}: every example has label {names[0]!r}; classification needs two or more classes"
            )
        validation = keys["validation"]
        unseen = next((k for k in validation if k not in distinct), None)
        if unseen is not None:
            raise TaskDataError(
                f"{frames['validation'].where}: label {unseen!r} (row {validation.index(unseen) + 1}) never occurs "
                f"in training {where}; fix the label or add training examples of it"
            )
    index = {name: i for i, name in enumerate(names)}
    return names, {split: [index[k] for k in keys[split]] for split in SPLITS}


def _targets(frame: _Frame, column: str) -> list[float]:
    import pandas as pd

    values = pd.to_numeric(frame.rows[column], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise TaskDataError(
            f"{frame.where}: label {frame.rows[column].iloc[bad[0]]!r} in row {bad[0] + 1} of column {column!r} "
            "is not a number; a regression target must be numeric (or set task.kind: classification)"
        )
    return values.astype(float).tolist()


def _subset(dataset, count: int | None, seed: int):
    if count is None or count >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(count))


def load_splits(task: TaskConfig) -> Splits:
    """The task's train and validation splits, checked, with ``num_train``/``num_dev`` subsets taken."""
    import datasets

    frames = _read(task)
    for frame in frames.values():
        _check_columns(frame, task)
    if task.kind == "regression":
        names, labels = (), {split: _targets(frames[split], task.label_column) for split in SPLITS}
    else:
        names, labels = _class_indices(task, frames)
    if task.score_name == "f1" and len(names) > 2:
        raise TaskDataError(
            f"task.metric: f1 is binary F1, but {frames['train'].where} has {len(names)} classes; use macro_f1 or micro_f1"
        )
    spec = TaskSpec(task.name, tuple(task.text_columns), len(names) or 1, task.metric_names, names)
    dtype = "float32" if task.kind == "regression" else "int64"
    built = {}
    for split in SPLITS:
        columns = {name: [_text(v) for v in frames[split].rows[name]] for name in task.text_columns}
        features = datasets.Features(
            {**{name: datasets.Value("string") for name in task.text_columns}, "label": datasets.Value(dtype)}
        )
        built[split] = datasets.Dataset.from_dict({**columns, "label": labels[split]}, features=features)
    if task.name == EMBEDDED_TASK and task.train is None:
        return Splits(spec, built["train"], built["validation"])  # generated at the sizes asked for
    return Splits(
        spec, _subset(built["train"], task.num_train, task.seed), _subset(built["validation"], task.num_dev, task.seed)
    )


def resolved_labels(task: TaskConfig, splits: Splits) -> TaskConfig:
    """``task`` with the class order its data gave written in, so a run saves the order it used."""
    if task.kind == "regression" or task.labels is not None:
        return task
    return task.model_copy(update={"labels": splits.task.label_names})
