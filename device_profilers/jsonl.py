"""Append-only JSON-lines files that survive a kill at any moment.

Each record is one line, written with a single ``write`` and fsynced, so a reader sees
whole records plus at most one line cut short by a kill; readers skip that line, and a
writer starting again first trims it so the next record begins on a line of its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_records(path: str | os.PathLike) -> list[dict]:
    """The whole records in ``path`` (none if it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # cut short by a kill mid-write
    return records


def trim_partial_line(path: str | os.PathLike) -> None:
    """Drop a trailing line without its newline (the remains of a kill mid-write)."""
    path = Path(path)
    if not path.is_file():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as stream:
            stream.truncate(end)


def append_record(path: str | os.PathLike, record: dict) -> None:
    with open(path, "a") as stream:
        stream.write(json.dumps(record) + "\n")
        stream.flush()
        os.fsync(stream.fileno())
