"""Reading a user's data file into a ``pandas.DataFrame``, robustly, by its suffix.

UTF-8 with or without a byte-order mark; CSV with standard quoting; TSV unquoted, as
GLUE's are (many of its sentences hold a lone '"'); JSON as an array of records or one
record a line; parquet. Cells are kept as written: "NA" and "null" are words here, not
missing values. Every failure is a ``TaskDataError`` naming the file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import TaskDataError

FILE_FORMATS = ("tsv", "csv", "json", "jsonl", "parquet")


def read_table(path: Path, what: str):
    """The rows of the data file at ``path`` (``what`` names it in errors, e.g. ``task.train``)."""
    import pandas as pd

    suffix = path.suffix.lstrip(".").lower()
    if suffix not in FILE_FORMATS:
        raise TaskDataError(
            f"{what}: {str(path)!r} is not a data file canao reads; give one of .{', .'.join(FILE_FORMATS)}"
        )
    if not path.is_file():
        raise TaskDataError(f"{what}: no file {str(path)!r}; check the path (relative paths start at the config file)")
    try:
        if suffix in ("csv", "tsv"):
            return pd.read_csv(
                path,
                sep="\t" if suffix == "tsv" else ",",
                quoting=csv.QUOTE_NONE if suffix == "tsv" else csv.QUOTE_MINIMAL,
                keep_default_na=False,
                encoding="utf-8-sig",
            )
        if suffix == "parquet":
            return pd.read_parquet(path)
        text = path.read_text(encoding="utf-8-sig")
        lines = suffix == "jsonl" or not text.lstrip().startswith("[")
        return pd.read_json(io.StringIO(text), lines=lines, orient="records", dtype=False)
    except PermissionError:
        raise TaskDataError(f"{what}: cannot read {str(path)!r} (permission denied)") from None
    except UnicodeDecodeError as error:
        raise TaskDataError(f"{what}: {str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise TaskDataError(f"{what}: {str(path)!r} is empty; it needs a header row and examples") from None
    except Exception as error:  # noqa: BLE001 - pandas and pyarrow raise many kinds for a malformed file
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise TaskDataError(f"{what}: {str(path)!r} is not valid {suffix.upper()} ({detail})") from None
