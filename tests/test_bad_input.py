"""Every kind of bad input to ``canao search``: each exits 2 with one line naming the field
and what to do, and writes no run directory.

The cases run through ``canao_ray.cli.main`` in this process; one of them also runs as a
user runs it (a real process), so the whole process's stderr is checked to be one line.
The last two cases need the shared local Ray and a profiler, since only the cluster knows
its CPUs and only a measurement knows that no architecture of the space meets the budget.
"""

import os
import subprocess
import sys

import pytest

from canao_ray.cli import main

QUICK = (
    "protocol: {warmup: 1, repeats: 3, min_repeat_ms: 2, blocks: 1, block_pause_s: 0, max_blocks: 1, quiet_wait_s: 0}"
)
CASES = {
    "unknown key": ("laytency: {}\n", "unknown key 'laytency'"),
    "unknown nested key": ("latency: {budget: 5}\n", "unknown key 'latency.budget'"),
    "wrong type": ("search: {num_samples: eight}\n", "search.num_samples must be an integer"),
    "out of range": ("latency: {budget_ms: -1}\n", "latency.budget_ms must be a positive"),
    "empty space": ("space: {num_layers: []}\n", "num_layers is empty"),
    "repeated choice": ("space: {num_heads: [2, 2]}\n", "num_heads repeats a choice"),
    "contradictory schedule": ("training: {epochs: 2}\nscheduler: {grace_period: 3}\n", "exceeds training.epochs"),
    "unknown device": ("latency: {device: pixel7}\n", "unknown device 'pixel7'"),
    "unknown backend": ("latency: {backend: tensorrt}\n", "unknown backend 'tensorrt'"),
    "unknown sampler": ("search: {sampler: cmaes}\n", "unknown sampler 'cmaes'"),
    "unreachable tracker": (
        "latency: {device: board, rpc: {tracker: '127.0.0.1:1', key: board}}\n",
        "cannot reach the TVM RPC tracker at 127.0.0.1:1",
    ),
    "missing data directory": (
        "task: {name: sst2, data_dir: /nonexistent}\nteacher: {}\n",
        "no folder sst2/ in '/nonexistent'",
    ),
    "missing data column": ("task: {name: sst2, data_dir: DATA}\nteacher: {}\n", "missing column(s) sentence"),
    "no teacher for a GLUE task": ("task: {name: sst2}\n", "needs a teacher"),
    "missing teacher": (
        "task: {name: sst2}\nteacher: {model: /nonexistent/teacher}\n",
        "teacher '/nonexistent/teacher': no such directory",
    ),
    "not YAML": ("space: [1,\n", "is not valid YAML"),
    "not a mapping": ("- 1\n- 2\n", "must be a mapping"),
    "no config file": (None, "does not exist"),
    "more CPUs per trial than the cluster has": (
        "search: {trial_cpus: 64}\n",
        "search.trial_cpus: each trial asks for 64 CPUs",
    ),
    "a budget no architecture can meet": (
        f"task: {{seq_len: 16}}\nlatency: {{budget_ms: 0.0001, backend: ort, {QUICK}}}\n",
        "the space's fastest architecture, L1-H32-A2-I64, runs in",
    ),
}


NEEDS_RAY = ("more CPUs per trial than the cluster has", "a budget no architecture can meet")


def _config(tmp_path, yaml_text):
    config = tmp_path / "config.yaml"
    if yaml_text is not None:
        data = tmp_path / "glue"
        (data / "sst2").mkdir(parents=True)
        for split in ("train", "dev"):
            (data / "sst2" / f"{split}.tsv").write_text("text\tlabel\nfine\t1\n")  # SST-2 calls it "sentence"
        config.write_text(yaml_text.replace("DATA", str(data)))
    return config


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in NEEDS_RAY else c for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys, request):
    yaml_text, message = CASES[case]
    if case in NEEDS_RAY:
        request.getfixturevalue("ray_cluster")
    monkeypatch.setenv("CANAO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["search", "--config", str(_config(tmp_path, yaml_text)), "--out", str(out)]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr, stderr[-2000:]
    assert len(stderr.strip().splitlines()) == 1, stderr[-2000:]
    assert not out.exists()


@pytest.mark.slow
def test_bad_input_in_a_real_process_prints_one_line_and_nothing_else(tmp_path):
    """The whole process's stderr: no warning of a library stands before canao's line."""
    yaml_text, message = CASES["unknown nested key"]
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "canao_ray.cli",
        "search",
        "--config",
        str(_config(tmp_path, yaml_text)),
        "--out",
        str(out),
    ]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CANAO_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[
        -2000:
    ]
    assert not out.exists()


def test_an_output_directory_in_use_is_refused_and_left_as_it_was(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["search", "--out", str(out)]) == 2
    assert "is not empty; choose a new --out" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_pickled_teacher_weights_are_refused(tmp_path):
    """Unpickling a checkpoint runs any code it carries: only safetensors are read."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from canao_ray.teacher import TeacherError, load_classifier

    model = BertForSequenceClassification(
        BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    )
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(TeacherError, match="has no model.safetensors; canao reads no pickled weights"):
        load_classifier(tmp_path)
