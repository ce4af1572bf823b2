"""Scratch directories of dead processes are removed; live ones are left alone."""

import subprocess
from pathlib import Path

from device_profilers.files import SCRATCH_PREFIX as PREFIX
from device_profilers.files import remove_dead_scratch, scratch_dir


def test_only_dead_processes_scratch_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    exited = subprocess.Popen(["true"])
    exited.wait()  # reaped: its pid names no process now
    dead = tmp_path / f"{PREFIX}{exited.pid}-model"
    dead.mkdir()
    with scratch_dir() as live:
        assert remove_dead_scratch() == 1
        assert not dead.exists() and Path(live).exists()
