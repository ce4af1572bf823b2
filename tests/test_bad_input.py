"""Every kind of bad input to ``canao search``: each exits 2 with one line naming the field
and what to do, and writes no run directory.

The cases run through ``canao_ray.cli.main`` in this process; one of them also runs as a
user runs it (a real process), so the whole process's stderr is checked to be one line.
The last two cases need the shared local Ray and a profiler, since only the cluster knows
its CPUs and only a measurement knows that no architecture of the space meets the budget.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from canao_ray.cli import main

OWN = "@own"


def own(
    settings: str = "",
    train: str = "train.csv",
    validation: str = "dev.csv",
    teacher: str = "no_tokenizer",
    teacher_settings: str = "",
) -> str:
    """A config over the user's own files in OWN (train and dev.csv unless named), with
    ``settings`` added to its task section and ``teacher_settings`` to its teacher's."""
    task = f"train: {OWN}/{train}, validation: {OWN}/{validation}, text_columns: [subject, body], label_column: intent"
    teacher_extra = f", {teacher_settings}" if teacher_settings else ""
    task_extra = f", {settings}" if settings else ""
    return f"task: {{{task}{task_extra}}}\nteacher: {{model: {OWN}/{teacher}{teacher_extra}}}\n"


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
    "per-layer heads wider than the hidden size": (
        "space: {kind: per_layer, num_heads: [4, 16], hidden_size: [128], head_dim: [16]}\n",
        "space: 16 heads of 16 span 256, over hidden_size 128",
    ),
    "unknown kind of space": ("space: {kind: layerwise}\n", "space: unknown kind 'layerwise'"),
    "empty Tune choice": (
        "space: {num_layers: {choice: []}, hidden_size: 64, head_dim: 16, num_heads: 2, ffn_ratio: 2}\n",
        "num_layers: choice needs a non-empty list",
    ),
    "Tune domain canao cannot sample": (
        "space: {num_layers: {uniform: [1, 3]}, hidden_size: 64, head_dim: 16, num_heads: 2, ffn_ratio: 2}\n",
        "'uniform' is not a domain canao samples",
    ),
    "Tune space deeper than its layers": (
        "space: {num_layers: {choice: [1, 3]}, hidden_size: 64, head_dim: 16, layers: [{num_heads: 2, ffn_ratio: 2}]}\n",
        "num_layers is 3 but layers lists only 1",
    ),
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
    "missing GLUE column": ("task: {name: sst2, data_dir: DATA}\nteacher: {}\n", "has no column 'sentence'"),
    "unknown task": ("task: {name: tickets}\n", "unknown task 'tickets'; name a preset"),
    "train without validation": (
        f"task: {{train: {OWN}/train.csv, text_columns: [body]}}\n",
        "task.validation is required",
    ),
    "no text columns": (f"task: {{train: {OWN}/train.csv, validation: {OWN}/dev.csv}}\n", "text_columns is required"),
    "three text columns": (own("text_columns: [subject, body, intent]"), "task.text_columns"),
    "metric that does not fit the kind": (
        own("kind: regression, metric: matthews_correlation"),
        "task.metric: matthews_correlation does not score regression",
    ),
    "missing data file": (own(train="nope.csv"), "task.train: no file"),
    "not a data file": (own(train="train.xlsx"), "is not a data file canao reads"),
    "data file not text": (own(train="binary.csv"), "is not UTF-8 text"),
    "malformed CSV": (own(train="unclosed.csv"), "is not valid CSV"),
    "malformed JSON": (own(train="broken.json"), "is not valid JSON"),
    "malformed parquet": (own(train="broken.parquet"), "is not valid PARQUET"),
    "empty data file": (own(train="empty.csv"), "is empty; it needs a header row"),
    "empty split": (own(train="header_only.csv"), "has no examples"),
    "missing text column": (own("text_columns: [title]"), "has no column 'title' (its columns: subject, body, intent)"),
    "missing label column": (own("label_column: category"), "has no column 'category'"),
    "text column empty in every row": (own(train="blank_body.csv"), "text column 'body' is empty in every row"),
    "example without a label": (own(train="unlabelled.csv"), "row 2 has no label in column 'intent'"),
    "one class only": (own(train="one_class.csv"), "every example has label 'billing'"),
    "validation label training never has": (
        own(validation="unseen.csv"),
        "label 'refund' (row 4) never occurs in training",
    ),
    "class without a training example": (
        own("labels: [billing, login, shipping, refund]"),
        "class 'refund' of task.labels has no training example",
    ),
    "label outside the given classes": (
        own("labels: [billing, login]"),
        "label 'shipping' (row 3) is not one of task.labels",
    ),
    "binary F1 on three classes": (own("metric: f1"), "f1 is binary F1, but task.train"),
    "non-numeric regression target": (
        own("kind: regression"),
        "label 'billing' in row 1 of column 'intent' is not a number",
    ),
    "teacher config malformed": (own(teacher="bad_config"), "cannot read its config.json"),
    "teacher of another family": (
        own(teacher="gpt2_teacher"),
        "model type 'gpt2' is not a family canao builds students in",
    ),
    "teacher without a tokenizer": (own(teacher="no_tokenizer"), "cannot read its tokenizer"),
    "config not text": ("BINARY", "is not UTF-8 text; give a YAML file"),
    "teacher GPU on a machine without one": (
        own(teacher_settings="gpus: 1"),
        "teacher.gpus: 1 asks for a GPU",
    ),
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
    "GPUs per trial on a cluster without GPUs": (
        "search: {trial_gpus: 1.0}\n",
        "search.trial_gpus: each trial asks for 1 GPUs but the Ray cluster has 0",
    ),
    "a budget no architecture can meet": (
        f"task: {{seq_len: 16}}\nlatency: {{budget_ms: 0.0001, backend: ort, {QUICK}}}\n",
        "the space's fastest architecture, L1-H32-A2-I64, runs in",
    ),
}


NEEDS_RAY = (
    "more CPUs per trial than the cluster has",
    "GPUs per trial on a cluster without GPUs",
    "a budget no architecture can meet",
)
if torch.cuda.is_available():  # the case is about a machine without one
    del CASES["teacher GPU on a machine without one"]

#: A user's own data: three intents, quoted fields holding commas, a byte-order mark.
TICKETS = (
    "\ufeffsubject,body,intent\n"
    '"Invoice","I was charged twice, please check",billing\n'
    "Password,cannot log in since yesterday,login\n"
    'Parcel,"where is my parcel, it is late",shipping\n'
)
OWN_FILES = {
    "train.csv": TICKETS,
    "dev.csv": TICKETS,
    "binary.csv": b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00",
    "unclosed.csv": 'subject,body,intent\n"Invoice,charged twice,billing\n',
    "broken.json": '[{"subject": "Invoice", "body": ',
    "broken.parquet": "not a parquet file",
    "empty.csv": "",
    "header_only.csv": "subject,body,intent\n",
    "blank_body.csv": "subject,body,intent\nInvoice,,billing\nPassword,  ,login\n",
    "unlabelled.csv": "subject,body,intent\nInvoice,charged twice,billing\nPassword,cannot log in,\n",
    "one_class.csv": "subject,body,intent\nInvoice,charged twice,billing\nRefund,money back,billing\n",
    "unseen.csv": TICKETS + "Refund,I want my money back,refund\n",
    "train.xlsx": "",
    "bad_config/config.json": "{not json",
    "gpt2_teacher/config.json": json.dumps({"model_type": "gpt2"}),
    "no_tokenizer/config.json": json.dumps({"model_type": "bert", "vocab_size": 30}),
}


def _config(tmp_path, yaml_text):
    config = tmp_path / "config.yaml"
    if yaml_text == "BINARY":
        config.write_bytes(b"\xff\xfe\x00task")
    elif yaml_text is not None:
        data = tmp_path / "glue"
        (data / "sst2").mkdir(parents=True)
        for split in ("train", "dev"):
            (data / "sst2" / f"{split}.tsv").write_text("text\tlabel\nfine\t1\n")  # SST-2 calls it "sentence"
        for name, content in OWN_FILES.items():
            path = tmp_path / "own" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        config.write_text(yaml_text.replace("DATA", str(data)).replace(OWN, str(tmp_path / "own")))
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
