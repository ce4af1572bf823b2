"""A deployable bundle of one trained model, checked against the PyTorch model it came from.

Layout of ``<bundle>/``:

- ``model.onnx``: the token tensors the tokenizer gives (``input_ids``, ``attention_mask``,
  and ``token_type_ids`` where the family has them; int64, ``[1, seq_len]``, padded with
  the attention mask) to ``logits``; for an int8 Arch, the dynamically quantized graph
  (``device_profilers.export.quantize_int8``), and ``canao.json`` says ``"precision": "int8"``;
- ``model.so``: that graph compiled by TVM for the search's device with its tuning
  database (load with ``tvm.runtime.load_module`` and run with ``relax.VirtualMachine``);
- ``config.json``, ``model.safetensors``: the PyTorch model, in the teacher's family, its
  classes named (``id2label``, ``label2id``). Load it with ``canao_ray.load_model(bundle)``;
  a model of uniform layers also loads with ``from_pretrained``, one with a shape per layer
  does not (its config records the Arch under ``canao_arch``; Hugging Face's configs hold
  one shape for all layers);
- the tokenizer's files; ``canao.json``: architecture, family, task, classes, inputs,
  the device it runs on and the one it was trained on;
- ``metrics.json``: dev metrics from PyTorch and from the ONNX file under ONNX Runtime,
  and the largest logit differences of PyTorch and of TVM's module from ONNX Runtime on
  the first dev examples (for int8, the float PyTorch model's distance from the quantized
  graph: tenths, not millionths; TVM's from ONNX Runtime stays about 1e-2);
- ``latency.json``: the architecture's latencies on the device (TVM and ONNX Runtime).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from device_profilers import Device, TuningSettings
from device_profilers.export import export_onnx
from device_profilers.files import atomic_directory
from search_spaces import Arch

from ..data import TaskData, task_metrics

BUNDLE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHECK_EXAMPLES = 32  # dev examples whose logits are compared across PyTorch, ONNX Runtime and TVM


def bundle_inputs(data: TaskData) -> tuple[str, ...]:
    """The graph's inputs, in a fixed order: the token tensors the task's tokenizer gives."""
    return tuple(name for name in BUNDLE_INPUTS if name in data.tokenizer.model_input_names)


def _padded(data: TaskData, row: dict) -> dict[str, np.ndarray]:
    """One dev example as the bundle's inputs: padded to ``seq_len``, batch 1."""
    names = bundle_inputs(data)
    features = {name: row[name] for name in names if name in row}
    padded = data.tokenizer.pad(features, padding="max_length", max_length=data.seq_len, return_tensors="np")
    arrays = {name: np.asarray(padded[name], dtype=np.int64)[None] for name in padded}
    return {name: arrays.get(name, np.zeros_like(arrays["input_ids"])) for name in names}


def onnx_logits(onnx_path: Path, data: TaskData, num_threads: int) -> np.ndarray:
    """Dev-split logits of the bundle's ONNX file under ONNX Runtime, one example at a time."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["logits"], _padded(data, row))[0] for row in data.dev])


def pytorch_logits(model, data: TaskData, count: int) -> np.ndarray:
    """Logits of the PyTorch model for the first ``count`` dev examples, padded like the bundle's."""
    import torch

    with torch.no_grad():
        rows = data.dev.select(range(min(count, len(data.dev))))
        return np.concatenate(
            [model(**{k: torch.from_numpy(v) for k, v in _padded(data, row).items()}).logits.numpy() for row in rows]
        )


def tvm_logits(library: Path, data: TaskData, count: int) -> np.ndarray:
    """Logits of the compiled module for the first ``count`` dev examples (on this machine)."""
    import tvm
    from tvm import relax

    vm = relax.VirtualMachine(tvm.runtime.load_module(str(library)), tvm.cpu())
    outputs = []
    for row in data.dev.select(range(min(count, len(data.dev)))):
        inputs = _padded(data, row)
        outputs.append(vm["main"](*(tvm.runtime.tensor(array) for array in inputs.values())).numpy())
    return np.concatenate(outputs)


def write_bundle(
    target: Path,
    model,
    arch: Arch,
    data: TaskData,
    pytorch_metrics: dict[str, float],
    device: Device,
    cache_dir: Path,
    tuning: TuningSettings,
    latencies: dict[str, Any],
    trained_on: dict[str, Any],
) -> dict[str, Any]:
    """Export, compile and check one model into ``target`` (built aside, then renamed).
    ``trained_on`` says where and in which precision the model was trained."""
    with atomic_directory(target) as partial:
        return _fill_bundle(
            partial, model, arch, data, pytorch_metrics, device, cache_dir, tuning, latencies, trained_on
        )


def _fill_bundle(
    partial: Path,
    model,
    arch,
    data: TaskData,
    pytorch_metrics,
    device: Device,
    cache_dir,
    tuning,
    latencies,
    trained_on,
):
    from device_profilers.backends.tvm import TvmBackend

    model.cpu().eval()
    model.save_pretrained(partial)
    data.tokenizer.save_pretrained(partial)
    inputs = bundle_inputs(data)
    onnx_path = export_onnx(model, partial / "model.onnx", 1, data.seq_len, inputs, precision=arch.precision)

    backend = TvmBackend(device, cache_dir, tuning)
    executable, _, _ = backend.compile(onnx_path, 1, data.seq_len)
    backend.export_library(executable, partial / "model.so")

    logits = onnx_logits(onnx_path, data, device.num_threads)
    metrics = {
        "pytorch": pytorch_metrics,
        "onnxruntime": task_metrics(data.task, logits, np.asarray(data.dev["labels"])),
    }
    reference = logits[: min(CHECK_EXAMPLES, len(logits))]
    metrics["onnx_max_abs_logit_diff"] = float(np.abs(pytorch_logits(model, data, len(reference)) - reference).max())
    if device.rpc is None:  # a remote device's module does not load here
        metrics["tvm_max_abs_logit_diff"] = float(
            np.abs(tvm_logits(partial / "model.so", data, len(reference)) - reference).max()
        )
    description = {
        "arch": arch.to_dict(),
        "arch_key": arch.key,
        "precision": arch.precision,
        "family": model.config.model_type,
        "task": data.task.name,
        "labels": list(data.task.label_names),
        "inputs": {name: [1, data.seq_len] for name in inputs},
        "device": device.name,
        "target": device.target,
        "trained_on": trained_on,
    }
    for name, value in (("metrics.json", metrics), ("latency.json", latencies), ("canao.json", description)):
        (partial / name).write_text(json.dumps(value, indent=2, default=str))
    return metrics
