"""The durable writes every run file goes through, and the scratch space of profilers."""

import subprocess
from pathlib import Path

import pytest

from device_profilers.files import SCRATCH_PREFIX, atomic_directory, remove_dead_scratch, scratch_dir, write_atomic


def test_only_dead_processes_scratch_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    exited = subprocess.Popen(["true"])
    exited.wait()  # reaped: its pid names no process now
    dead = tmp_path / f"{SCRATCH_PREFIX}{exited.pid}-model"
    dead.mkdir()
    with scratch_dir() as live:
        assert remove_dead_scratch() == 1
        assert not dead.exists() and Path(live).exists()


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path):
    target = tmp_path / "report.md"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, None)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_a_directory_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "bundle"
    with pytest.raises(RuntimeError), atomic_directory(target) as partial:
        (partial / "model.onnx").write_text("half")
        raise RuntimeError("killed mid-way")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(target) as partial:
        (partial / "model.onnx").write_text("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"] and (target / "model.onnx").read_text() == "whole"


def test_the_first_of_two_writers_of_the_same_directory_wins_unless_told_to_replace(tmp_path):
    target = tmp_path / "teacher"
    for content, replace in (("first", False), ("second", False)):
        with atomic_directory(target, replace=replace) as partial:
            (partial / "weights").write_text(content)
    assert (target / "weights").read_text() == "first"
    with atomic_directory(target) as partial:
        (partial / "weights").write_text("third")
    assert (target / "weights").read_text() == "third" and [p.name for p in tmp_path.iterdir()] == ["teacher"]
