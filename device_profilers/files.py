"""Files that survive a kill at any moment, and scratch space for exported models.

One home for the three ways canao writes: whole files and directories are built under a
``.partial`` name and renamed into place (a reader sees all or nothing); logs are JSON
lines appended with one fsynced ``write`` each (a reader sees whole records and at most
one cut line, which the next writer trims); scratch directories carry their process id,
so the next profiler removes the ones a killed process left.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRATCH_PREFIX = "canao-scratch-"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to (this process's own); renamed to ``path``
    when the block succeeds."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, content: str | bytes) -> None:
    """Write ``content`` to ``path`` all at once, as far as any reader can tell."""
    with atomic_path(path) as partial:
        partial.write_bytes(content.encode() if isinstance(content, str) else content)


@contextmanager
def atomic_directory(target: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """An empty directory to fill, renamed to ``target`` when the block succeeds.

    ``replace``: an existing ``target`` is replaced; otherwise the first writer wins and a
    later one's directory is dropped (two processes that computed the same thing).
    """
    target = Path(target)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        if replace:
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(partial, target)
        except OSError:
            if replace:
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def read_records(path: str | os.PathLike) -> list[dict]:
    """The whole records of a JSON-lines file (none if it does not exist); a line cut by a kill is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
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
    """Append one JSON record as one fsynced line."""
    with open(path, "a") as stream:
        stream.write(json.dumps(record) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A temporary directory marked with this process's id."""
    return tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_dead_scratch() -> int:
    """Remove scratch directories left by processes that no longer run; returns how many."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = path.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
