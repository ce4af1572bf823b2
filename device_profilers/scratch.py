"""Scratch directories for exported models and libraries, and the removal of dead processes' ones.

A profiler killed mid-measurement (Ray's restart, a user's ^C, the OOM killer) never
runs its ``TemporaryDirectory`` clean-up, and an exported BERT-base is 400+ MB. Each
directory is named after the process that made it, so the next profiler to start
removes the ones whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "canao-scratch-"


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A temporary directory marked with this process's id."""
    return tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-")


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
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = path.name[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed
